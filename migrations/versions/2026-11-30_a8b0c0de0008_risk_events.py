"""Risk events: reports, updates, cancellations

Revision ID: a8b0c0de0008
Revises: d4e0c0de0004
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "a8b0c0de0008"
down_revision: str | None = "d4e0c0de0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_events",
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("references_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("root_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("warning_level", sa.SmallInteger(), nullable=True),
        sa.Column("grade", sa.SmallInteger(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("certainty", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("origin_level", sa.String(length=16), nullable=False),
        sa.Column("origin_adcode", sa.String(length=6), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("area_desc", sa.String(length=500), nullable=False),
        sa.Column("detected_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reported_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("headline", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("raw_cap", sa.Text(), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'risk' AND warning_level BETWEEN 1 AND 4 AND grade IS NULL) OR (kind = 'event' AND grade BETWEEN 1 AND 4 AND warning_level IS NULL)",
            name=op.f("ck_risk_events_level_xor_grade"),
        ),
        sa.CheckConstraint(
            "category IN ('natural_disaster', 'accident', 'public_health', 'social_security', 'technology')",
            name=op.f("ck_risk_events_category"),
        ),
        sa.CheckConstraint(
            "certainty IN ('Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown')",
            name=op.f("ck_risk_events_certainty"),
        ),
        sa.CheckConstraint("kind IN ('risk', 'event')", name=op.f("ck_risk_events_kind")),
        sa.CheckConstraint("msg_type IN ('alert', 'update', 'cancel')", name=op.f("ck_risk_events_msg_type")),
        sa.CheckConstraint(
            "origin_level IN ('province', 'prefecture', 'county')", name=op.f("ck_risk_events_origin_level")
        ),
        sa.CheckConstraint("scope IN ('public', 'restricted', 'private')", name=op.f("ck_risk_events_scope")),
        sa.CheckConstraint(
            "severity IN ('Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown')",
            name=op.f("ck_risk_events_severity"),
        ),
        sa.CheckConstraint("source IN ('form', 'api', 'cap')", name=op.f("ck_risk_events_source")),
        sa.CheckConstraint(
            "status IN ('active', 'superseded', 'cancelled', 'closed', 'merged')",
            name=op.f("ck_risk_events_status"),
        ),
        sa.CheckConstraint(
            "urgency IN ('Immediate', 'Expected', 'Future', 'Past', 'Unknown')",
            name=op.f("ck_risk_events_urgency"),
        ),
        sa.CheckConstraint(
            "(version = 1) = (references_id IS NULL)", name=op.f("ck_risk_events_references_chain")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_risk_events_version")),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["risk_events.id"],
            name=op.f("fk_risk_events_merged_into_id_risk_events"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["references_id"],
            ["risk_events.id"],
            name=op.f("fk_risk_events_references_id_risk_events"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["root_id"],
            ["risk_events.id"],
            name=op.f("fk_risk_events_root_id_risk_events"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_events")),
        sa.UniqueConstraint("identifier", name="uq_risk_events_identifier"),
        sa.UniqueConstraint("root_id", "version", name="uq_risk_events_root_version"),
    )
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_risk_events_duplicates", ["event_type", "status", "detected_at"], unique=False
        )
        batch_op.create_index(
            "ix_risk_events_origin", ["origin_level", "origin_adcode", "status"], unique=False
        )
        batch_op.create_index("ix_risk_events_root", ["root_id", "version"], unique=False)
        batch_op.create_index("ix_risk_events_status", ["status", "reported_at"], unique=False)
        batch_op.create_index(
            "uq_risk_events_one_active",
            ["root_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "risk_event_attachments",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_risk_event_attachments_size")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["risk_events.id"],
            name=op.f("fk_risk_event_attachments_event_id_risk_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_event_attachments")),
    )
    with op.batch_alter_table("risk_event_attachments", schema=None) as batch_op:
        batch_op.create_index("ix_risk_event_attachments_event", ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("risk_event_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_event_attachments_event")

    op.drop_table("risk_event_attachments")
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_risk_events_one_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index("ix_risk_events_status")
        batch_op.drop_index("ix_risk_events_root")
        batch_op.drop_index("ix_risk_events_origin")
        batch_op.drop_index("ix_risk_events_duplicates")

    op.drop_table("risk_events")
