"""Consultations: an index on (status, completed_at) for the regional statistics by day

Revision ID: a7c0c0de0016
Revises: a7b0c0de0007
Create Date: 2026-11-30 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a7c0c0de0016"
down_revision: str | None = "a7b0c0de0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.create_index("ix_consultations_completed", ["status", "completed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_index("ix_consultations_completed")
