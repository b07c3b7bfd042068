"""Interaction log: every question, what was retrieved, the route, the model, the answer, timings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Chunk ids are kept as plain values: a re-index replaces chunks, the log must stay.
    op.execute(
        """
        CREATE TABLE interactions (
            id bigserial PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now(),
            origin text NOT NULL,
            asker text,
            channel text,
            thread_ts text,
            message_ts text,
            question text NOT NULL,
            rewritten_question text,
            language text,
            collections text[],
            route text NOT NULL,
            prompt_version text,
            model_name text,
            model_version text,
            fallback_reason text,
            retrieved jsonb NOT NULL DEFAULT '[]',
            answer text,
            answer_language text,
            citations jsonb NOT NULL DEFAULT '[]',
            verified boolean,
            input_tokens integer,
            output_tokens integer,
            latency_ms jsonb NOT NULL DEFAULT '{}',
            error text
        )
        """
    )
    op.execute("CREATE INDEX interactions_created_idx ON interactions (created_at DESC)")
    op.execute("CREATE INDEX interactions_thread_idx ON interactions (channel, thread_ts)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS interactions")
