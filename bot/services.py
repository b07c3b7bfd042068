"""Builds the long-lived parts (database engine, embedder, indexer, searcher) from Settings, once."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine

from bot.settings import Settings
from models import Embedder, make_embedder
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
        return Indexer(self.engine, self.embedder, s.chunking_params, s.max_file_bytes)

    @cached_property
    def searcher(self) -> Searcher:
        return Searcher(self.engine, self.embedder)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
