"""Slack: question claims (exactly one answer), where each answer was posted, votes, admin actions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per Slack message we answer: the first event to insert it does the work;
    # Slack retries and the app_mention + message pair for one mention find it taken.
    op.execute(
        """
        CREATE TABLE slack_claims (
            channel text NOT NULL,
            message_ts text NOT NULL,
            claimed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (channel, message_ts)
        )
        """
    )
    # The bot's answer message, so votes by reaction find their interaction.
    op.execute("ALTER TABLE interactions ADD COLUMN reply_ts text")
    op.execute("CREATE INDEX interactions_reply_idx ON interactions (channel, reply_ts) WHERE reply_ts IS NOT NULL")
    # A user's latest vote on an answer wins; vote 0 = withdrawn.
    op.execute(
        """
        CREATE TABLE feedback (
            interaction_id bigint NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
            user_id text NOT NULL,
            vote smallint NOT NULL CHECK (vote IN (-1, 0, 1)),
            via text NOT NULL,
            comment text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (interaction_id, user_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE admin_actions (
            id bigserial PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now(),
            user_id text NOT NULL,
            action text NOT NULL,
            allowed boolean NOT NULL,
            detail jsonb NOT NULL DEFAULT '{}'
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS admin_actions")
    op.execute("DROP TABLE IF EXISTS feedback")
    op.execute("DROP INDEX IF EXISTS interactions_reply_idx")
    op.execute("ALTER TABLE interactions DROP COLUMN IF EXISTS reply_ts")
    op.execute("DROP TABLE IF EXISTS slack_claims")
