"""Consultations: life cycle, quick questions, messages, attachments, calls

Revision ID: a7b0c0de0007
Revises: c3b0c0de0003
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "a7b0c0de0007"
down_revision: str | None = "c3b0c0de0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consultation_quick_questions",
        sa.Column("patient_id", regio.core.db.BigId, nullable=False),
        sa.Column("requester_user_id", regio.core.db.BigId, nullable=False),
        sa.Column("hospital_id", regio.core.db.BigId, nullable=False),
        sa.Column("region_adcode", sa.String(length=6), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("triage_assessment_id", regio.core.db.BigId, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("widened_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_doctor_id", regio.core.db.BigId, nullable=True),
        sa.Column("accepted_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "(status = 'accepted') = (accepted_doctor_id IS NOT NULL)",
            name=op.f("ck_consultation_quick_questions_accepted_has_doctor"),
        ),
        sa.CheckConstraint(
            "mode IN ('text', 'voice', 'video')", name=op.f("ck_consultation_quick_questions_mode")
        ),
        sa.CheckConstraint(
            "status IN ('offered', 'accepted', 'cancelled')",
            name=op.f("ck_consultation_quick_questions_status"),
        ),
        sa.CheckConstraint(
            "urgency IN ('routine', 'soon', 'urgent')", name=op.f("ck_consultation_quick_questions_urgency")
        ),
        sa.ForeignKeyConstraint(
            ["accepted_doctor_id"],
            ["doctors.id"],
            name=op.f("fk_consultation_quick_questions_accepted_doctor_id_doctors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_consultation_quick_questions_hospital_id_hospitals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_consultation_quick_questions_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requester_user_id"],
            ["users.id"],
            name=op.f("fk_consultation_quick_questions_requester_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_quick_questions")),
    )
    op.create_index(
        "ix_consultation_quick_questions_offer",
        "consultation_quick_questions",
        ["status", "department_code", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_consultation_quick_questions_patient",
        "consultation_quick_questions",
        ["patient_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "consultations",
        sa.Column("patient_id", regio.core.db.BigId, nullable=False),
        sa.Column("requester_user_id", regio.core.db.BigId, nullable=False),
        sa.Column("doctor_id", regio.core.db.BigId, nullable=False),
        sa.Column("hospital_id", regio.core.db.BigId, nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", regio.core.db.BigId, nullable=True),
        sa.Column("quick_question_id", regio.core.db.BigId, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("scheduled_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("complaint", sa.Text(), nullable=False),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("patient_read_seq", sa.Integer(), nullable=False),
        sa.Column("doctor_read_seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint("mode IN ('text', 'voice', 'video')", name=op.f("ck_consultations_mode")),
        sa.CheckConstraint(
            "source IN ('appointment', 'quick_question')", name=op.f("ck_consultations_source")
        ),
        sa.CheckConstraint(
            "status IN ('waiting', 'in_progress', 'completed', 'cancelled', 'no_show')",
            name=op.f("ck_consultations_status"),
        ),
        sa.CheckConstraint("urgency IN ('routine', 'soon', 'urgent')", name=op.f("ck_consultations_urgency")),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_consultations_last_seq")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["booking_appointments.id"],
            name=op.f("fk_consultations_appointment_id_booking_appointments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["doctors.id"],
            name=op.f("fk_consultations_doctor_id_doctors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_consultations_hospital_id_hospitals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_consultations_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["quick_question_id"],
            ["consultation_quick_questions.id"],
            name=op.f("fk_consultations_quick_question_id_consultation_quick_questions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requester_user_id"],
            ["users.id"],
            name=op.f("fk_consultations_requester_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_consultations_appointment_id")),
        sa.UniqueConstraint("quick_question_id", name=op.f("uq_consultations_quick_question_id")),
    )
    op.create_index(
        "ix_consultations_doctor_queue",
        "consultations",
        ["doctor_id", "status", "scheduled_at"],
        unique=False,
    )
    op.create_index("ix_consultations_patient", "consultations", ["patient_id", "created_at"], unique=False)
    op.create_index(
        "ix_consultations_requester", "consultations", ["requester_user_id", "created_at"], unique=False
    )
    op.create_table(
        "consultation_attachments",
        sa.Column("consultation_id", regio.core.db.BigId, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by_user_id", regio.core.db.BigId, nullable=False),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_consultation_attachments_sha256")),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_consultation_attachments_size")),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_attachments_consultation_id_consultations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"],
            ["users.id"],
            name=op.f("fk_consultation_attachments_uploaded_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_attachments")),
    )
    op.create_index(
        "ix_consultation_attachments_consultation",
        "consultation_attachments",
        ["consultation_id"],
        unique=False,
    )
    op.create_table(
        "consultation_calls",
        sa.Column("consultation_id", regio.core.db.BigId, nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by_user_id", regio.core.db.BigId, nullable=False),
        sa.Column("started_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("connected_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("ended_by_user_id", regio.core.db.BigId, nullable=True),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint("mode IN ('voice', 'video')", name=op.f("ck_consultation_calls_mode")),
        sa.CheckConstraint(
            "status IN ('ringing', 'connected', 'ended')", name=op.f("ck_consultation_calls_status")
        ),
        sa.CheckConstraint(
            "duration_seconds IS NULL OR duration_seconds >= 0", name=op.f("ck_consultation_calls_duration")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_calls_consultation_id_consultations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_user_id"],
            ["users.id"],
            name=op.f("fk_consultation_calls_ended_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["started_by_user_id"],
            ["users.id"],
            name=op.f("fk_consultation_calls_started_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_calls")),
    )
    op.create_index(
        "ix_consultation_calls_consultation",
        "consultation_calls",
        ["consultation_id", "started_at"],
        unique=False,
    )
    op.create_index(
        "uq_consultation_calls_one_open",
        "consultation_calls",
        ["consultation_id"],
        unique=True,
        sqlite_where=sa.text("status <> 'ended'"),
        postgresql_where=sa.text("status <> 'ended'"),
    )
    op.create_table(
        "consultation_messages",
        sa.Column("consultation_id", regio.core.db.BigId, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_user_id", regio.core.db.BigId, nullable=True),
        sa.Column("sender_side", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("client_msg_id", sa.String(length=64), nullable=True),
        sa.Column("attachment_id", regio.core.db.BigId, nullable=True),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "kind IN ('text', 'attachment', 'call', 'status')", name=op.f("ck_consultation_messages_kind")
        ),
        sa.CheckConstraint(
            "sender_side IN ('patient', 'doctor', 'system')",
            name=op.f("ck_consultation_messages_sender_side"),
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_consultation_messages_seq")),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["consultation_attachments.id"],
            name=op.f("fk_consultation_messages_attachment_id_consultation_attachments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_messages_consultation_id_consultations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["sender_user_id"],
            ["users.id"],
            name=op.f("fk_consultation_messages_sender_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_messages")),
        sa.UniqueConstraint(
            "consultation_id", "seq", name=op.f("uq_consultation_messages_consultation_id_seq")
        ),
    )
    op.create_index(
        "uq_consultation_messages_client_msg",
        "consultation_messages",
        ["consultation_id", "client_msg_id"],
        unique=True,
        sqlite_where=sa.text("client_msg_id IS NOT NULL"),
        postgresql_where=sa.text("client_msg_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("consultation_messages")
    op.drop_table("consultation_calls")
    op.drop_table("consultation_attachments")
    op.drop_table("consultations")
    op.drop_table("consultation_quick_questions")
