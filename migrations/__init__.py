"""Alembic migrations: append-only, numbered revisions."""
