"""What an answer rests on: its evidence and groundedness check, and documents flagged at index time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The passages quoted under the answer ([{number, text, score}]) and the groundedness check
    # of a generated answer ({grounded, supported, unsupported, unsupported_sentences}).
    op.execute("ALTER TABLE interactions ADD COLUMN evidence jsonb NOT NULL DEFAULT '[]'")
    op.execute("ALTER TABLE interactions ADD COLUMN grounding jsonb")
    # Why an answer was replaced by its evidence (auto mode), e.g. "unsupported", "uncited", "stub".
    op.execute("ALTER TABLE interactions ADD COLUMN fallback text")
    # Text aimed at an assistant ("ignore previous instructions", "SYSTEM:") found when indexing:
    # [{"pattern": ..., "excerpt": ...}]; empty when none.
    op.execute("ALTER TABLE documents ADD COLUMN flags jsonb NOT NULL DEFAULT '[]'")


def downgrade() -> None:
    op.execute("ALTER TABLE documents DROP COLUMN flags")
    op.execute("ALTER TABLE interactions DROP COLUMN fallback")
    op.execute("ALTER TABLE interactions DROP COLUMN grounding")
    op.execute("ALTER TABLE interactions DROP COLUMN evidence")
