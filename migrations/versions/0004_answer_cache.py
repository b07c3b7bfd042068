"""Approved-answer cache; what each answer was given and which cache entry served it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The sources exactly as the model saw them (rendered text) and as records with the
    # document's content hash at answer time: training exports and cache invalidation use them.
    op.execute("ALTER TABLE interactions ADD COLUMN context text")
    op.execute("ALTER TABLE interactions ADD COLUMN sources jsonb NOT NULL DEFAULT '[]'")
    # An approved answer (from a 👍'd interaction) or a curated one (an admin's correction of a
    # 👎'd interaction). ``status`` is derived from the votes by the application; ``stale``
    # means a source document changed or vanished since.
    op.execute(
        """
        CREATE TABLE cached_answers (
            id bigserial PRIMARY KEY,
            interaction_id bigint NOT NULL UNIQUE REFERENCES interactions (id) ON DELETE CASCADE,
            question text NOT NULL,
            normalized text NOT NULL,
            language text NOT NULL,
            scope_key text NOT NULL,
            embedding vector NOT NULL,
            embedding_model text NOT NULL,
            answer text NOT NULL,
            sources jsonb NOT NULL,
            curated_by text,
            status text NOT NULL CHECK (status IN ('active', 'demoted', 'stale')),
            status_reason text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX cached_answers_lookup_idx ON cached_answers (scope_key, normalized) "
               "WHERE status = 'active'")
    op.execute("ALTER TABLE interactions ADD COLUMN cached_answer_id bigint "
               "REFERENCES cached_answers (id) ON DELETE SET NULL")
    op.execute("CREATE INDEX interactions_cached_idx ON interactions (cached_answer_id) "
               "WHERE cached_answer_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS interactions_cached_idx")
    op.execute("ALTER TABLE interactions DROP COLUMN IF EXISTS cached_answer_id")
    op.execute("DROP TABLE IF EXISTS cached_answers")
    op.execute("ALTER TABLE interactions DROP COLUMN IF EXISTS sources")
    op.execute("ALTER TABLE interactions DROP COLUMN IF EXISTS context")
