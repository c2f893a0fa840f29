"""login_throttle: sign-in failure counters for unknown usernames and client addresses

Revision ID: f1a0c0de0001
Revises: 6bbbdcd64264
Create Date: 2026-11-30 06:09:25.682540
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "f1a0c0de0001"
down_revision: str | None = "6bbbdcd64264"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttles_last_failure_at"), ["last_failure_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttles_last_failure_at"))
    op.drop_table("login_throttles")
