"""Risk events: reports, updates, cancellations

Revision ID: a8b0c0de0008
Revises: d4e0c0de0004
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import regio.core.db  # noqa: F401

revision: str = "a8b0c0de0008"
down_revision: str | None = "d4e0c0de0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
