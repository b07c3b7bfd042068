"""Is anything retrieved relevant enough to answer from? The signal behind "I don't know"."""

from __future__ import annotations

from retrieval.search import SearchHit


def best_similarity(hits: list[SearchHit]) -> float | None:
    """The highest cosine similarity between the question and a retrieved chunk.

    Fusion scores (RRF) are ranks, not relevance: the top hit of an unrelated question
    scores as high as the top hit of a good one. Cosine similarity is comparable across
    questions, so one threshold, calibrated per embedding model, separates them.
    None when no hit came from the vector arm (a keyword-only search).
    """
    sims = [h.vector_similarity for h in hits if h.vector_similarity is not None]
    return max(sims) if sims else None
