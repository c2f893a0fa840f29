"""Consultations: life cycle, quick questions, messages, attachments, calls

Revision ID: a7b0c0de0007
Revises: c3b0c0de0003
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import regio.core.db  # noqa: F401

revision: str = "a7b0c0de0007"
down_revision: str | None = "c3b0c0de0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
