"""A channel's instruction: how answers there should read (tone, form), set by admins with /kb channel.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: none. At most 300 characters, as the answer prompt takes it (answering.prompts.MAX_STYLE_CHARS).
    op.execute("ALTER TABLE channel_settings ADD COLUMN instruction text CHECK (char_length(instruction) <= 300)")


def downgrade() -> None:
    op.execute("ALTER TABLE channel_settings DROP COLUMN IF EXISTS instruction")
