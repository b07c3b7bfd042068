"""How close a question comes to passages, as the multilingual embedder sees it.

Words can be compared only within a language; across languages the embedder is what relates "한국
리전에 언제 출시" to "Q4 2026 in the Korea region". Embedding is the cost (tens of milliseconds a
passage on a small CPU), so it is used only where words cannot decide (answering.evidence,
``closest_passages``), and passage vectors are remembered: the same chunks come back answer after answer.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

import numpy as np

from models.embeddings import Embedder

REMEMBERED = 4096  # passage vectors kept
QUESTIONS_REMEMBERED = 64  # question vectors kept


class PassageSimilarity:
    """``similarity(question, texts)``: the cosine similarity of the question to each text."""

    def __init__(self, embedder: Embedder, remembered: int = REMEMBERED) -> None:
        self.embedder = embedder
        self.remembered = remembered
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._asked: OrderedDict[str, np.ndarray] = OrderedDict()  # questions: answerability, then evidence
        self._lock = Lock()

    def __call__(self, question: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        fresh = dict(zip(missing, self.embedder.embed_array(missing))) if missing else {}
        with self._lock:
            self._vectors.update(fresh)
            while len(self._vectors) > self.remembered:
                self._vectors.popitem(last=False)
        asked = self._question(question)
        vectors = known | fresh
        return [float(vectors[t] @ asked) for t in texts]

    def _question(self, question: str) -> np.ndarray:
        """The question's vector, embedded once however many steps compare passages with it."""
        with self._lock:
            if question in self._asked:
                self._asked.move_to_end(question)
                return self._asked[question]
        vector = self.embedder.embed_array([question], is_query=True)[0]
        with self._lock:
            self._asked[question] = vector
            while len(self._asked) > QUESTIONS_REMEMBERED:
                self._asked.popitem(last=False)
        return vector
