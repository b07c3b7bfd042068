"""An admin's clearance of a flagged document: its text as cleared (content hash), by whom, when.

A document whose text addresses an assistant is flagged when indexed; it counts as flagged until an admin
clears that version of it (``/kb flagged clear``, ``python -m bot flagged clear``). A changed document is
read again and, if still flagged, needs clearing again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE documents ADD COLUMN cleared_hash text, ADD COLUMN cleared_by text, "
               "ADD COLUMN cleared_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE documents DROP COLUMN IF EXISTS cleared_hash, DROP COLUMN IF EXISTS cleared_by, "
               "DROP COLUMN IF EXISTS cleared_at")
