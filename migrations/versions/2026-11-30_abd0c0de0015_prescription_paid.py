"""Prescriptions: the time the drugs were paid for (nothing is shipped or handed over before); a failed
delivery ends its fulfilment so the patient can choose again; open pickup codes unique per pharmacy

Revision ID: abd0c0de0015
Revises: abb0c0de0012
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "abd0c0de0015"
down_revision: str | None = "abb0c0de0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


LIVE = "ended_at IS NULL"
OPEN_CODE = "pickup_code IS NOT NULL AND pickup_used_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_at", regio.core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("prescription_fulfilments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_at", regio.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint("uq_prescription_fulfilments_prescription_id", type_="unique")
        batch_op.create_index(
            "uq_prescription_fulfilments_live",
            ["prescription_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
        batch_op.create_index(
            "uq_prescription_fulfilments_open_code",
            ["pharmacy_id", "pickup_code"],
            unique=True,
            sqlite_where=sa.text(OPEN_CODE),
            postgresql_where=sa.text(OPEN_CODE),
        )


def downgrade() -> None:
    with op.batch_alter_table("prescription_fulfilments", schema=None) as batch_op:
        batch_op.drop_index("uq_prescription_fulfilments_open_code")
        batch_op.drop_index("uq_prescription_fulfilments_live")
        batch_op.create_unique_constraint("uq_prescription_fulfilments_prescription_id", ["prescription_id"])
        batch_op.drop_column("ended_at")
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_column("paid_at")
