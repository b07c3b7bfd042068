"""Local GGUF embedding models through llama-cpp-python (mean-pooled, normalised)."""

import os

import numpy as np

from core.errors import ModelError
from models.embeddings import Embedder


class LlamaCppEmbedder(Embedder):
    @property
    def name(self) -> str:
        return f"llamacpp/{os.path.basename(self.config.model_path)}"

    def _load(self) -> None:
        path = self.config.model_path
        if not path or not os.path.isfile(path):
            raise ModelError(f"EMBEDDING_MODEL_PATH must point at a GGUF file; got {path!r}")
        import llama_cpp

        try:
            self._llm = llama_cpp.Llama(
                model_path=path,
                embedding=True,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                n_ctx=512,
                n_batch=512,
                n_threads=self.config.threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {path}: {exc}") from exc
        self._dim = int(self._llm.n_embd())

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self.config.query_prefix if is_query else self.config.document_prefix
        # truncate=True keeps the head of inputs longer than the context instead of failing.
        vectors = self._llm.embed([prefix + t for t in texts], normalize=False, truncate=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)
