"""Warnings: deliveries, acknowledgements, escalations, responsibility lists

Revision ID: aab0c0de0010
Revises: a8b0c0de0008
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "aab0c0de0010"
down_revision: str | None = "a8b0c0de0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_accountability_records",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("party_key", sa.String(length=80), nullable=False),
        sa.Column("party_name", sa.String(length=200), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("warning_id", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("recorded_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_accountability_records")),
        sa.UniqueConstraint("kind", "warning_id", name="uq_risk_accountability_kind_warning"),
    )
    op.create_index(
        op.f("ix_risk_accountability_records_party_key"),
        "risk_accountability_records",
        ["party_key"],
        unique=False,
    )
    op.create_table(
        "risk_event_journeys",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("affected", sa.JSON(), nullable=False),
        sa.Column("done_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "change", name=op.f("pk_risk_event_journeys")),
    )
    op.create_table(
        "risk_parties",
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("party_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint(
            "role IN ('lead', 'support', 'coordinate', 'take_over')", name=op.f("ck_risk_parties_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_parties")),
        sa.UniqueConstraint("root_id", "party_key", name="uq_risk_parties_root_party"),
    )
    op.create_table(
        "risk_tasks",
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_key", sa.String(length=80), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("title_en", sa.String(length=300), nullable=False),
        sa.Column("deadline", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("default_key", sa.String(length=40), nullable=True),
        sa.Column("created_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("done_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("reminded_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_risk_tasks_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_tasks")),
        sa.UniqueConstraint("root_id", "owner_key", "default_key", name="uq_risk_tasks_default"),
    )
    op.create_index("ix_risk_tasks_due", "risk_tasks", ["status", "deadline"], unique=False)
    op.create_index("ix_risk_tasks_root", "risk_tasks", ["root_id", "id"], unique=False)
    op.create_table(
        "risk_warning_feed",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("audience", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("warning_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_warning_feed")),
    )
    op.create_index("ix_risk_warning_feed_audience", "risk_warning_feed", ["audience", "id"], unique=False)
    op.create_table(
        "risk_warnings",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("recipient_key", sa.String(length=80), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_level", sa.String(length=16), nullable=True),
        sa.Column("recipient_code", sa.String(length=64), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("origin_level", sa.String(length=16), nullable=False),
        sa.Column("origin_adcode", sa.String(length=6), nullable=False),
        sa.Column("origin_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("headline", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("eta_hours", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by_name", sa.String(length=150), nullable=False),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("escalated_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "recipient_kind IN ('jurisdiction', 'body')", name=op.f("ck_risk_warnings_recipient_kind")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled', 'closed')", name=op.f("ck_risk_warnings_status")
        ),
        sa.CheckConstraint("escalation_step BETWEEN 0 AND 2", name=op.f("ck_risk_warnings_escalation_step")),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name=op.f("ck_risk_warnings_level")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_warnings")),
        sa.UniqueConstraint("root_id", "recipient_key", name="uq_risk_warnings_root_recipient"),
    )
    op.create_index(
        "ix_risk_warnings_due", "risk_warnings", ["status", "acknowledged_at", "due_at"], unique=False
    )
    op.create_index("ix_risk_warnings_origin", "risk_warnings", ["origin_adcode", "id"], unique=False)
    op.create_index("ix_risk_warnings_recipient", "risk_warnings", ["recipient_key", "id"], unique=False)
    op.create_table(
        "risk_webhook_subscriptions",
        sa.Column("subscriber_key", sa.String(length=80), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_webhook_subscriptions")),
        sa.UniqueConstraint("subscriber_key", "url", name="uq_risk_webhook_subscriptions_url"),
    )
    op.create_index(
        op.f("ix_risk_webhook_subscriptions_subscriber_key"),
        "risk_webhook_subscriptions",
        ["subscriber_key"],
        unique=False,
    )
    op.create_table(
        "risk_warning_escalations",
        sa.Column("warning_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("to_keys", sa.JSON(), nullable=False),
        sa.Column("escalated_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["risk_warnings.id"],
            name=op.f("fk_risk_warning_escalations_warning_id_risk_warnings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_warning_escalations")),
        sa.UniqueConstraint("warning_id", "step", name="uq_risk_warning_escalations_step"),
    )
    op.create_table(
        "risk_webhook_deliveries",
        sa.Column("warning_id", sa.BigInteger(), nullable=True),
        sa.Column("subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["risk_webhook_subscriptions.id"],
            name=op.f("fk_risk_webhook_deliveries_subscription_id_risk_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_webhook_deliveries")),
    )
    op.create_index(
        "ix_risk_webhook_deliveries_warning", "risk_webhook_deliveries", ["warning_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_risk_webhook_deliveries_warning", table_name="risk_webhook_deliveries")
    op.drop_table("risk_webhook_deliveries")
    op.drop_table("risk_warning_escalations")
    op.drop_index(
        op.f("ix_risk_webhook_subscriptions_subscriber_key"), table_name="risk_webhook_subscriptions"
    )
    op.drop_table("risk_webhook_subscriptions")
    op.drop_index("ix_risk_warnings_recipient", table_name="risk_warnings")
    op.drop_index("ix_risk_warnings_origin", table_name="risk_warnings")
    op.drop_index("ix_risk_warnings_due", table_name="risk_warnings")
    op.drop_table("risk_warnings")
    op.drop_index("ix_risk_warning_feed_audience", table_name="risk_warning_feed")
    op.drop_table("risk_warning_feed")
    op.drop_index("ix_risk_tasks_root", table_name="risk_tasks")
    op.drop_index("ix_risk_tasks_due", table_name="risk_tasks")
    op.drop_table("risk_tasks")
    op.drop_table("risk_parties")
    op.drop_table("risk_event_journeys")
    op.drop_index(op.f("ix_risk_accountability_records_party_key"), table_name="risk_accountability_records")
    op.drop_table("risk_accountability_records")
