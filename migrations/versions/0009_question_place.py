"""Where a question was asked (a public channel, or somewhere private), and which channels let their up-voted
questions become examples, set by admins with /kb channel promote.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "public": a public channel, as Slack said when it was asked; "private": a DM, a group DM, a private
    # channel, the assistant panel, an ephemeral /ask, or where Slack could not tell. NULL (questions logged
    # before this revision, and outside Slack) counts as private: such a question is never shown to anyone else.
    op.execute("ALTER TABLE interactions ADD COLUMN place text CHECK (place IN ('public', 'private'))")
    # Up-voted questions asked in a public channel become examples elsewhere only if that channel opted in.
    op.execute("ALTER TABLE channel_settings ADD COLUMN promote boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE channel_settings DROP COLUMN IF EXISTS promote")
    op.execute("ALTER TABLE interactions DROP COLUMN IF EXISTS place")
