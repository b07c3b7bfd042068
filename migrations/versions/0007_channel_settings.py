"""Per-channel behaviour, set by admins with /kb channel: when the bot answers there, and from what.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # mode: "mention" (answer when mentioned; the default for a channel with no row), "all" (answer every
    # top-level question posted there: help channels) or "off" (never answer there). collections: the
    # collections answers there may use, of those the channel may see (NULL: all of them).
    op.execute(
        """
        CREATE TABLE channel_settings (
            channel text PRIMARY KEY,
            mode text NOT NULL DEFAULT 'mention' CHECK (mode IN ('mention', 'all', 'off')),
            collections text[],
            updated_by text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS channel_settings")
