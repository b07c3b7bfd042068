"""Hosted embeddings: any OpenAI-compatible /v1/embeddings endpoint, through langchain-openai."""

import numpy as np

from core.errors import ModelError
from models.embeddings import Embedder


class OpenAIEmbedder(Embedder):
    @property
    def name(self) -> str:
        suffix = f"@{self.config.dimensions}" if self.config.dimensions else ""
        return f"openai/{self.config.model}{suffix}"

    def _load(self) -> None:
        import openai
        from langchain_openai import OpenAIEmbeddings

        if not self.config.model:
            raise ModelError("EMBEDDING_MODEL must name the hosted embedding model, e.g. text-embedding-3-small")
        self._openai_errors = (openai.OpenAIError,)
        self._client = OpenAIEmbeddings(
            model=self.config.model,
            base_url=self.config.base_url or None,
            api_key=self.config.api_key or "not-needed",
            dimensions=self.config.dimensions,
            # Token-id inputs and tiktoken downloads only make sense for OpenAI itself;
            # OpenAI-compatible servers want plain strings.
            check_embedding_ctx_length=False,
            timeout=self.config.timeout_s,
            max_retries=2,
        )
        self._dim = len(self._call(["dimension probe"], is_query=False)[0])

    def _call(self, texts: list[str], is_query: bool) -> list[list[float]]:
        prefix = self.config.query_prefix if is_query else self.config.document_prefix
        try:
            return self._client.embed_documents([prefix + t for t in texts])
        except self._openai_errors as exc:
            where = self.config.base_url or "the OpenAI API"
            raise ModelError(
                f"embedding request to {where} failed: {exc}; check EMBEDDING_BASE_URL, EMBEDDING_API_KEY "
                "and EMBEDDING_MODEL"
            ) from exc

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        return np.asarray(self._call(texts, is_query), dtype=np.float32)
