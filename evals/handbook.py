"""The sample handbook, indexed into its own collection so evaluations never touch real documents."""

from __future__ import annotations

from core.errors import DocumentError, InvalidInput
from core.paths import SAMPLES

HANDBOOK = SAMPLES / "handbook"
EVAL_COLLECTION = "eval-handbook"


def ensure_indexed(services, progress=None) -> str:
    """Index (incrementally: unchanged files are skipped) and return the collection name."""
    report = services.indexer.index_paths([HANDBOOK], EVAL_COLLECTION, progress)
    if report.failed:
        raise DocumentError(f"the sample handbook did not index: {report.failed}")
    return EVAL_COLLECTION


def require_documents(engine, collection: str) -> str:
    """``collection`` if it holds documents; otherwise a clear error, so an evaluation never passes by
    answering from nothing (or from documents the cases are not about)."""
    from retrieval.store import collection_summaries

    documents = {row["name"]: row["documents"] for row in collection_summaries(engine)}
    if not documents.get(collection):
        state = "is empty" if collection in documents else "does not exist"
        raise InvalidInput(f"collection {collection!r} {state}: index your documents first "
                           f"(python -m bot index PATH... --collection {collection})")
    return collection
