"""Alembic environment. The app passes an open connection; the alembic CLI uses DATABASE_URL."""

from alembic import context
from sqlalchemy import create_engine, text

# Any number of processes may start at once; one migrates, the others wait.
_LOCK_KEY = 7_311_204_559


def _run(connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
    try:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
        connection.commit()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from bot.settings import Settings
    from retrieval.db import resolve_url

    settings = Settings()
    engine = create_engine(resolve_url(settings.database_url, settings.kb_data_dir))
    with engine.connect() as conn:
        _run(conn)
