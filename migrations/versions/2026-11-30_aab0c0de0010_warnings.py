"""Warnings: deliveries, acknowledgements, escalations, responsibility lists

Revision ID: aab0c0de0010
Revises: a8b0c0de0008
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import regio.core.db  # noqa: F401

revision: str = "aab0c0de0010"
down_revision: str | None = "a8b0c0de0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
