"""The one place that reads the environment: a frozen Settings built once at start-up."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from answering.pipeline import PipelineConfig
from bot.slack.config import SlackConfig
from core.links import TrustedHosts, source_hosts
from feedback.answer_cache import CacheParams
from models import EMBEDDERS, EmbedderConfig
from models.chat import ChatConfig, default_local_model_path
from retrieval.chunking import ChunkingParams
from retrieval.ingest import MAX_FILE_CHUNKS, MAX_FILE_PAGES
from retrieval.search import RetrievalParams


class Settings(BaseSettings):
    """Every variable is documented in .env.example."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    # Database
    database_url: str | None = Field(default=None, description="PostgreSQL URL; unset = embedded server")
    kb_data_dir: Path = Field(default=Path(".data"), description="Where the embedded PostgreSQL keeps its data")
    db_pool_size: int = Field(default=5, ge=1, le=100)

    # Embeddings
    # A Literal of the registered names: pydantic's own message lists the choices.
    embedding_backend: Literal[EMBEDDERS.names()] = EMBEDDERS.default
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
    max_file_pages: int = Field(default=MAX_FILE_PAGES, ge=1)
    max_file_chunks: int = Field(default=MAX_FILE_CHUNKS, ge=1)

    # Retrieval
    retrieval_k: int = Field(default=RetrievalParams.k, ge=1, le=100)
    retrieval_candidates: int = Field(default=RetrievalParams.candidates, ge=1, le=1000)
    retrieval_rrf_k: int = Field(default=RetrievalParams.rrf_k, ge=0)
    retrieval_vector_weight: float = Field(default=RetrievalParams.vector_weight, ge=0)
    retrieval_keyword_weight: float = Field(default=RetrievalParams.keyword_weight, ge=0)
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    # Documents whose text addresses an assistant ("ignore previous instructions"), flagged when indexed
    flagged_documents: Literal["quote", "answer", "exclude"] = "quote"
    # auto mode quotes the evidence at once for a model whose recent drafts the checks rejected this often
    skip_drafts_rejected: float = Field(default=0.8, gt=0)
    # The answer guard and the injection scan also read sentences by meaning (models.probe)
    meaning_checks: bool = True

    # Answering: which model, and when to say "I don't know"
    model_policy: Literal["auto", "hosted", "local"] = "auto"
    answer_mode: Literal["auto", "generate", "extractive"] = "auto"
    confidential_collections: Annotated[list[str], NoDecode] = Field(default_factory=list)
    relevance_threshold: float = Field(default=PipelineConfig.relevance_threshold, ge=0, le=1)
    answer_max_tokens: int = Field(default=PipelineConfig.max_tokens, ge=16, le=8192)
    answer_source_tokens: int = Field(default=PipelineConfig.source_tokens, ge=200)
    answer_temperature: float = Field(default=ChatConfig.temperature, ge=0, le=2)
    example_questions: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(PipelineConfig.examples))

    # Approved-answer cache (answers people 👍'd, served without a model)
    cache_enabled: bool = True
    cache_similarity: float = Field(default=CacheParams.similarity, gt=0, le=1)
    cache_min_approvals: int = Field(default=CacheParams.min_approvals, ge=1)
    cache_allow_downvoted: bool = CacheParams.allow_downvoted

    # Privacy: personal data (e-mail, phone, resident registration and card numbers, mentions) is redacted in
    # what is stored, and kept from hosted models; the log is purged after RETENTION_DAYS (0: kept)
    redact_stored: bool = True
    hosted_redact: bool = True
    retention_days: int = Field(default=0, ge=0)

    # Hosted chat model (any OpenAI-compatible API; Azure OpenAI when AZURE_OPENAI_ENDPOINT is set)
    hosted_model: str = ""
    hosted_base_url: str = ""
    hosted_api_key: SecretStr = SecretStr("")
    azure_openai_endpoint: str = ""
    azure_openai_api_version: str = ""
    hosted_timeout_s: float = Field(default=30.0, gt=0)
    hosted_context_tokens: int = Field(default=16000, ge=1024)

    # Local chat model (GGUF through llama.cpp)
    local_model_path: str = ""
    local_context_tokens: int = Field(default=4096, ge=1024)
    local_threads: int | None = Field(default=None, ge=1)
    local_timeout_s: float = Field(default=120.0, gt=0)  # one answer's time limit on the local model

    # Slack
    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_app_token: SecretStr = SecretStr("")
    slack_api_url: str = SlackConfig.api_url
    slack_admin_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    channel_collections: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    kb_sources: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    slack_workers: int = Field(default=SlackConfig.workers, ge=1, le=64)
    slack_queue_limit: int = Field(default=SlackConfig.queue_limit, ge=1)
    slack_user_questions_per_minute: int = Field(default=SlackConfig.user_questions_per_minute, ge=0)
    slack_streaming: bool = SlackConfig.streaming
    # Hosts answers may link to (each with its subdomains); empty: the hosts of KB_SOURCES' web addresses
    link_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator("database_url", "embedding_dimensions", "embedding_threads", "local_threads", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("confidential_collections", "slack_admin_users", "link_domains", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split(value, ",")

    @field_validator("channel_collections", "kb_sources", mode="before")
    @classmethod
    def _name_lists(cls, value: object) -> object:
        return _mapping(value)

    @field_validator("example_questions", mode="before")
    @classmethod
    def _bar_list(cls, value: object) -> object:
        return _split(value, "|")

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE")
        self.embedder_config  # validate the backend choice now, not on first use
        self.retrieval_params
        self.cache_params
        self.pipeline_config  # checks the model policy against the hosted settings
        self.link_hosts
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
            exclude_flagged=self.flagged_documents == "exclude",
        )

    @cached_property
    def cache_params(self) -> CacheParams:
        return CacheParams(similarity=self.cache_similarity, min_approvals=self.cache_min_approvals,
                           allow_downvoted=self.cache_allow_downvoted)

    @cached_property
    def chunking_params(self) -> ChunkingParams:
        return ChunkingParams(size=self.chunk_size, overlap=self.chunk_overlap)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def hosted_configured(self) -> bool:
        return bool(self.hosted_model)

    def chat_config(self, backend: str) -> ChatConfig:
        """The ChatConfig for ``backend`` ("local" or "hosted")."""
        common = {"temperature": self.answer_temperature, "max_tokens": self.answer_max_tokens}
        if backend == "local":
            return ChatConfig(backend="local", model_path=self.local_model_path or default_local_model_path(),
                              context_tokens=self.local_context_tokens, threads=self.local_threads,
                              timeout_s=self.local_timeout_s, **common)
        return ChatConfig(backend="hosted", model=self.hosted_model, base_url=self.hosted_base_url,
                          api_key=self.hosted_api_key.get_secret_value(), azure_endpoint=self.azure_openai_endpoint,
                          azure_api_version=self.azure_openai_api_version, timeout_s=self.hosted_timeout_s,
                          context_tokens=self.hosted_context_tokens, **common)

    @cached_property
    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig(
            policy=self.model_policy,
            answer_mode=self.answer_mode,
            confidential=frozenset(self.confidential_collections),
            hosted_configured=self.hosted_configured,
            relevance_threshold=self.relevance_threshold,
            max_tokens=self.answer_max_tokens,
            source_tokens=self.answer_source_tokens,
            examples=tuple(self.example_questions),
            retrieval=self.retrieval_params,
            redact_stored=self.redact_stored,
            hosted_redact=self.hosted_redact,
            meaning_checks=self.meaning_checks,
            flagged_documents=self.flagged_documents,
            skip_drafts_rejected=self.skip_drafts_rejected,
        )

    @cached_property
    def link_hosts(self) -> TrustedHosts:
        """LINK_DOMAINS or, when it is empty, the hosts of the sources' own web addresses (KB_SOURCES)."""
        try:
            return TrustedHosts(tuple(self.link_domains)
                                or source_hosts(place for places in self.kb_sources.values() for place in places))
        except ValueError as exc:
            raise ValueError(f"LINK_DOMAINS: {exc}") from exc

    @cached_property
    def slack_config(self) -> SlackConfig:
        """What the Slack edge is given: never the whole Settings."""
        return SlackConfig(
            bot_token=self.slack_bot_token.get_secret_value(),
            signing_secret=self.slack_signing_secret.get_secret_value(),
            app_token=self.slack_app_token.get_secret_value(),
            api_url=self.slack_api_url,
            admin_users=tuple(self.slack_admin_users),
            channel_collections={name: tuple(channels) for name, channels in self.channel_collections.items()},
            kb_sources={name: tuple(paths) for name, paths in self.kb_sources.items()},
            workers=self.slack_workers,
            queue_limit=self.slack_queue_limit,
            user_questions_per_minute=self.slack_user_questions_per_minute,
            streaming=self.slack_streaming,
            example_questions=tuple(self.example_questions),
            link_hosts=self.link_hosts,
            model_policy=self.model_policy,
            hosted_model=self.hosted_model,
            local_model_path=self.local_model_path,
            confidential_collections=tuple(self.confidential_collections),
            flagged_documents=self.flagged_documents,
            redact_stored=self.redact_stored,
            retention_days=self.retention_days,
        )


def _mapping(value: object) -> object:
    """``name=a,b;other=c`` (or a JSON object of lists) -> {"name": ["a", "b"], "other": ["c"]}."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("{"):
            return json.loads(value)
        out: dict[str, list[str]] = {}
        for part in filter(None, (p.strip() for p in value.split(";"))):
            name, sep, items = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"expected NAME=VALUE[,VALUE…] separated by ';', got {part!r}")
            out[name.strip()] = [item.strip() for item in items.split(",") if item.strip()]
        return out
    return value


def _split(value: object, sep: str) -> object:
    """A JSON list, or items separated by ``sep`` (blank items dropped)."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            return json.loads(value)
        return [item.strip() for item in value.split(sep) if item.strip()]
    return value
