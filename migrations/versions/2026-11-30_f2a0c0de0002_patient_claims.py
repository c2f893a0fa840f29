"""patient_claims: one-time codes, binding requests by number, and per-user look-up counters

Revision ID: f2a0c0de0002
Revises: 6bbbdcd64264
Create Date: 2026-11-30 06:13:27.248166
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "f2a0c0de0002"
down_revision: str | None = "6bbbdcd64264"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient_lookup_counters",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("window_start", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patient_lookup_counters_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_lookup_counters")),
        sa.UniqueConstraint(
            "user_id", "window_start", name=op.f("uq_patient_lookup_counters_user_id_window_start")
        ),
    )
    op.create_table(
        "patient_binding_requests",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id_number_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "relation",
            sa.Enum(
                "self",
                "spouse",
                "parent",
                "child",
                "other",
                name="binding_request_relation",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("binding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("withdrawn_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["patient_bindings.id"],
            name=op.f("fk_patient_binding_requests_binding_id_patient_bindings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patient_binding_requests_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_binding_requests")),
        sa.UniqueConstraint("binding_id", name=op.f("uq_patient_binding_requests_binding_id")),
    )
    with op.batch_alter_table("patient_binding_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_binding_requests_id_number_hash"), ["id_number_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_patient_binding_requests_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_patient_binding_requests_waiting",
            ["user_id", "id_number_hash"],
            unique=True,
            sqlite_where=sa.text("binding_id IS NULL AND withdrawn_at IS NULL"),
            postgresql_where=sa.text("binding_id IS NULL AND withdrawn_at IS NULL"),
        )

    op.create_table(
        "patient_claims",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "self", "consent", name="claim_purpose", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),
        sa.Column("patient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("binding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("expected_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("code_nonce", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["patient_bindings.id"],
            name=op.f("fk_patient_claims_binding_id_patient_bindings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_claims_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_patient_claims_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_claims")),
    )
    with op.batch_alter_table("patient_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_claims_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_claims_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_claims_user_id"))
        batch_op.drop_index(batch_op.f("ix_patient_claims_patient_id"))

    op.drop_table("patient_claims")
    with op.batch_alter_table("patient_binding_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_patient_binding_requests_waiting",
            sqlite_where=sa.text("binding_id IS NULL AND withdrawn_at IS NULL"),
            postgresql_where=sa.text("binding_id IS NULL AND withdrawn_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_patient_binding_requests_user_id"))
        batch_op.drop_index(batch_op.f("ix_patient_binding_requests_id_number_hash"))

    op.drop_table("patient_binding_requests")
    op.drop_table("patient_lookup_counters")
