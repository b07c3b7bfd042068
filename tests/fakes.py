"""Deterministic fakes of our own interfaces (never of the code under test)."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from models.embeddings import Embedder, EmbedderConfig


class FakeEmbedder(Embedder):
    """Hashed bag of words: texts sharing words get similar vectors. Fast and repeatable."""

    def __init__(self, dim: int = 384, tag: str = "hash") -> None:
        super().__init__(EmbedderConfig(batch_size=64))
        self._fixed_dim = dim
        self.tag = tag
        self.calls = 0

    @property
    def name(self) -> str:
        return f"fake/{self.tag}-{self._fixed_dim}"

    def _load(self) -> None:
        self._dim = self._fixed_dim

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        # Real embeddings share a common direction; fully orthogonal vectors would make
        # outliers that HNSW graphs cannot reach, which no real model produces.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(norms == 0, 1.0, norms)
        out[:, 0] += 0.6
        return out
