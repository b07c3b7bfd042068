"""Answerability: each collection's calibration, and why each question was (not) answered.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # How close questions no document answers come to this collection's chunks, measured after
    # indexing: {"embedding_model", "chunks", "languages": {"en": {"mean", "sd", "n"}, ...}}.
    op.execute("ALTER TABLE collections ADD COLUMN calibration jsonb")
    # The answerability decision: {"answerable", "reason", "similarity", "floor", "coverage", "required", ...}.
    op.execute("ALTER TABLE interactions ADD COLUMN answerability jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE interactions DROP COLUMN answerability")
    op.execute("ALTER TABLE collections DROP COLUMN calibration")
