"""Builds the long-lived parts (database, embedder, indexer, searcher, chat models, pipeline) from Settings, once."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine

from answering.cache import ApprovedAnswers
from answering.pipeline import AnswerCache, Pipeline
from answering.prompts import answer_messages
from bot.settings import Settings
from feedback.answer_cache import AnswerCacheStore
from feedback.exports import Exporter
from models import Embedder, make_embedder
from models.chat import ChatModels
from models.probe import Probe
from retrieval.db import open_database
from retrieval.ingest import Indexer
from retrieval.search import Searcher


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def engine(self) -> Engine:
        s = self.settings
        return open_database(s.database_url, s.kb_data_dir, pool_size=s.db_pool_size, ef_search=s.hnsw_ef_search)

    @cached_property
    def embedder(self) -> Embedder:
        return make_embedder(self.settings.embedder_config)

    @cached_property
    def indexer(self) -> Indexer:
        s = self.settings
        return Indexer(self.engine, self.embedder, s.chunking_params, s.max_file_bytes,
                       max_file_pages=s.max_file_pages, max_file_chunks=s.max_file_chunks,
                       injection_probe=Probe.load("injection") if s.meaning_checks else None)

    @cached_property
    def searcher(self) -> Searcher:
        return Searcher(self.engine, self.embedder)

    @cached_property
    def chat_models(self) -> ChatModels:
        return ChatModels(self.settings.chat_config)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.settings.pipeline_config, self.searcher, self.chat_models, self.engine, self.cache)

    @cached_property
    def slack_bot(self):
        from bot.slack.app import build_slack_bot

        return build_slack_bot(self.settings.slack_config, self.pipeline, self.engine, lambda: self.indexer,
                               self.answer_cache)

    @cached_property
    def answer_cache(self) -> AnswerCacheStore:
        return AnswerCacheStore(self.engine, self.embedder, self.settings.cache_params)

    @cached_property
    def cache(self) -> AnswerCache | None:
        return ApprovedAnswers(self.answer_cache) if self.settings.cache_enabled else None

    @cached_property
    def exporter(self) -> Exporter:
        return Exporter(self.engine, self.answer_cache, answer_messages,
                        frozenset(self.settings.confidential_collections))

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
