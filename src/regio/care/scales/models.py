"""Tables of scales: stored responses (FHIR QuestionnaireResponse), urgent alerts, their recipients and notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.scales.enums import AlertStatus, NoticeKind, RecipientReason
from regio.core.db import Base, BigId, IdMixin, UTCDateTime, one_of, utcnow

USERS_ID = "users.id"


class ScaleResponse(IdMixin, Base):
    """One completed scale for one patient; `resource` is the FHIR R4 QuestionnaireResponse as served."""

    __tablename__ = "scale_responses"
    __table_args__ = (
        CheckConstraint("score >= 0", name="score"),
        Index("ix_scale_responses_patient", "patient_id", "id"),
    )

    scale_id: Mapped[str] = mapped_column(String(32), nullable=False)
    scale_version: Mapped[str] = mapped_column(String(16), nullable=False)
    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    submitted_by_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False
    )
    answers: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    severity: Mapped[str] = mapped_column(String(32), nullable=False)
    urgent: Mapped[bool] = mapped_column(Boolean, nullable=False)
    flags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    resource: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    authored_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ScaleAlert(IdMixin, Base):
    """An urgent result (PHQ-9 item 9 above 0): raised, escalated if nobody acknowledges, acknowledged once."""

    __tablename__ = "scale_alerts"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in AlertStatus]), name="status"),
        CheckConstraint(
            "(status = 'acknowledged') = (acknowledged_by_user_id IS NOT NULL)", name="acknowledged_by"
        ),
        Index("ix_scale_alerts_due", "status", "escalate_at"),
    )

    response_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("scale_responses.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=AlertStatus.raised.value)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    escalate_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True
    )


class ScaleAlertRecipient(IdMixin, Base):
    """Who an alert was sent to, and why; being one is what lets a doctor see the response and acknowledge."""

    __tablename__ = "scale_alert_recipients"
    __table_args__ = (
        UniqueConstraint("alert_id", "user_id"),
        CheckConstraint(one_of("reason", [r.value for r in RecipientReason]), name="reason"),
        Index("ix_scale_alert_recipients_user", "user_id", "alert_id"),
    )

    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("scale_alerts.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey(USERS_ID, ondelete="CASCADE"), nullable=False)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    hospital_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ScaleAlertNotice(IdMixin, Base):
    """站内信 about an alert, written by the outbox handler once per message however often it is delivered."""

    __tablename__ = "scale_alert_notices"
    __table_args__ = (
        CheckConstraint(one_of("kind", [k.value for k in NoticeKind]), name="kind"),
        Index("ix_scale_alert_notices_user", "user_id", "id"),
    )

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey(USERS_ID, ondelete="CASCADE"), nullable=False)
    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("scale_alerts.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    text_zh: Mapped[str] = mapped_column(Text, nullable=False)
    text_en: Mapped[str] = mapped_column(Text, nullable=False)
    outbox_message_id: Mapped[int] = mapped_column(BigId, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
