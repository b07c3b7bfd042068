"""Alembic environment. The application passes an open connection (`python -m bot db upgrade`, and every
start); the alembic command line passes a URL with `-x url=...`. Nothing here imports the application."""

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
else:  # the alembic command line: the URL is given, not read from the application's settings
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("No database given. `python -m bot db upgrade` applies these migrations with your settings; "
                         "with alembic itself, pass -x url=postgresql+psycopg://USER:PASSWORD@HOST/DB")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
