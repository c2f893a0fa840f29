"""Spill-over: river networks

Revision ID: a9b0c0de0009
Revises: d4e0c0de0004
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "a9b0c0de0009"
down_revision: str | None = "d4e0c0de0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spillover_river_networks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("reach_count", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spillover_river_networks")),
        sa.UniqueConstraint("name", name=op.f("uq_spillover_river_networks_name")),
    )
    op.create_table(
        "spillover_river_reaches",
        sa.Column("network_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("river", sa.String(length=100), nullable=False),
        sa.Column("from_node", sa.String(length=100), nullable=False),
        sa.Column("to_node", sa.String(length=100), nullable=False),
        sa.Column("from_lon", sa.Float(), nullable=False),
        sa.Column("from_lat", sa.Float(), nullable=False),
        sa.Column("to_lon", sa.Float(), nullable=False),
        sa.Column("to_lat", sa.Float(), nullable=False),
        sa.Column("length_km", sa.Float(), nullable=False),
        sa.Column("travel_hours", sa.Float(), nullable=False),
        sa.Column("adcodes", sa.Text(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("length_km > 0", name=op.f("ck_spillover_river_reaches_length_positive")),
        sa.CheckConstraint("travel_hours > 0", name=op.f("ck_spillover_river_reaches_travel_positive")),
        sa.CheckConstraint("from_node <> to_node", name=op.f("ck_spillover_river_reaches_not_a_loop")),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["spillover_river_networks.id"],
            name=op.f("fk_spillover_river_reaches_network_id_spillover_river_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spillover_river_reaches")),
    )
    op.create_index(
        "ix_spillover_river_reaches_network",
        "spillover_river_reaches",
        ["network_id", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_spillover_river_reaches_network", table_name="spillover_river_reaches")
    op.drop_table("spillover_river_reaches")
    op.drop_table("spillover_river_networks")
