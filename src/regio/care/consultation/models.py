"""Consultation tables (FHIR R4 Encounter + Communication): consultations, quick questions,
messages with a per-consultation sequence, attachments kept by content hash, and calls.

Chat is health data kept at least 3 years (互联网诊疗监管细则): no row here is ever deleted before.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.consultation.enums import (
    CallStatus,
    MessageKind,
    Mode,
    QuestionStatus,
    Side,
    Source,
    Status,
    Urgency,
)
from regio.core.db import Base, BigId, IdMixin, UTCDateTime, one_of, utcnow

USERS_ID = "users.id"


class Consultation(IdMixin, Base):
    """One online consultation between a patient and a doctor (FHIR Encounter, class VR)."""

    __tablename__ = "consultations"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in Status]), name="status"),
        CheckConstraint(one_of("mode", [m.value for m in Mode]), name="mode"),
        CheckConstraint(one_of("source", [s.value for s in Source]), name="source"),
        CheckConstraint(one_of("urgency", [u.value for u in Urgency]), name="urgency"),
        CheckConstraint("last_seq >= 0", name="last_seq"),
        # One consultation per appointment and per quick question: opening twice is idempotent.
        UniqueConstraint("appointment_id"),
        UniqueConstraint("quick_question_id"),
        Index("ix_consultations_doctor_queue", "doctor_id", "status", "scheduled_at"),
        Index("ix_consultations_patient", "patient_id", "created_at"),
        Index("ix_consultations_requester", "requester_user_id", "created_at"),
        # Regional statistics count completed consultations by day.
        Index("ix_consultations_completed", "status", "completed_at"),
    )

    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    # The user who booked or asked: the patient themself or a bound family member.
    requester_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False
    )
    doctor_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="RESTRICT"), nullable=False
    )
    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="RESTRICT"), nullable=False
    )
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    appointment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("booking_appointments.id", ondelete="RESTRICT"), nullable=True
    )
    quick_question_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("consultation_quick_questions.id", ondelete="RESTRICT"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=Status.waiting.value)
    urgency: Mapped[str] = mapped_column(String(8), nullable=False, default=Urgency.routine.value)
    # The queue's order: the slot's start for a booking, the acceptance time for a quick question.
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # 主诉: what the patient wrote when asking (the quick question's text, or empty).
    complaint: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # cancelled / no-show
    end_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The message counter: each message takes last_seq + 1 by a conditional UPDATE ... RETURNING.
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Read receipts: the highest sequence each side has seen.
    patient_read_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    doctor_read_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class QuickQuestion(IdMixin, Base):
    """极速提问: a question offered to the doctors on duty in a department; the first to accept takes it."""

    __tablename__ = "consultation_quick_questions"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in QuestionStatus]), name="status"),
        CheckConstraint(one_of("mode", [m.value for m in Mode]), name="mode"),
        CheckConstraint(one_of("urgency", [u.value for u in Urgency]), name="urgency"),
        # Accepted means a doctor, and only then.
        CheckConstraint(
            "(status = 'accepted') = (accepted_doctor_id IS NOT NULL)", name="accepted_has_doctor"
        ),
        Index("ix_consultation_quick_questions_offer", "status", "department_code", "created_at"),
        Index("ix_consultation_quick_questions_patient", "patient_id", "created_at"),
    )

    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    requester_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False
    )
    # The hospital first asked; after widening any hospital of the region may answer.
    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="RESTRICT"), nullable=False
    )
    # The province of that hospital: widening offers the question to every hospital there.
    region_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default=Mode.text.value)
    urgency: Mapped[str] = mapped_column(String(8), nullable=False, default=Urgency.routine.value)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    triage_assessment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=QuestionStatus.offered.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    widened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted_doctor_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="RESTRICT"), nullable=True
    )
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Attachment(IdMixin, Base):
    """A file sent in a consultation; the bytes live in the blob store under their SHA-256."""

    __tablename__ = "consultation_attachments"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size"),
        CheckConstraint("length(sha256) = 64", name="sha256"),
        Index("ix_consultation_attachments_consultation", "consultation_id"),
    )

    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="RESTRICT"), nullable=False
    )
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    file_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    uploaded_by_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Message(IdMixin, Base):
    """One chat line (FHIR Communication), numbered 1, 2, 3 … within its consultation."""

    __tablename__ = "consultation_messages"
    __table_args__ = (
        CheckConstraint(one_of("kind", [k.value for k in MessageKind]), name="kind"),
        CheckConstraint(one_of("sender_side", [s.value for s in Side]), name="sender_side"),
        CheckConstraint("seq >= 1", name="seq"),
        UniqueConstraint("consultation_id", "seq"),
        # A resent message (same client id after a reconnect) is stored once.
        Index(
            "uq_consultation_messages_client_msg",
            "consultation_id",
            "client_msg_id",
            unique=True,
            sqlite_where=text("client_msg_id IS NOT NULL"),
            postgresql_where=text("client_msg_id IS NOT NULL"),
        ),
    )

    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="RESTRICT"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    sender_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True
    )
    sender_side: Mapped[str] = mapped_column(String(8), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default=MessageKind.text.value)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    client_msg_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attachment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("consultation_attachments.id", ondelete="RESTRICT"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Call(IdMixin, Base):
    """A voice or video call inside a consultation: who started it, when, and how long it lasted."""

    __tablename__ = "consultation_calls"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in CallStatus]), name="status"),
        CheckConstraint("mode IN ('voice', 'video')", name="mode"),
        CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="duration"),
        # One call at a time per consultation.
        Index(
            "uq_consultation_calls_one_open",
            "consultation_id",
            unique=True,
            sqlite_where=text("status <> 'ended'"),
            postgresql_where=text("status <> 'ended'"),
        ),
        Index("ix_consultation_calls_consultation", "consultation_id", "started_at"),
    )

    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="RESTRICT"), nullable=False
    )
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=CallStatus.ringing.value)
    started_by_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ended_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True
    )
