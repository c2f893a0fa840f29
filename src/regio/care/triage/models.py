"""Tables of triage: every assessment, kept so that later steps can refuse online care for a red flag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.triage.enums import Urgency
from regio.core.db import Base, BigId, IdMixin, UTCDateTime, utcnow

_URGENCIES = ", ".join(f"'{u.value}'" for u in Urgency)


class TriageAssessment(IdMixin, Base):
    """One questionnaire and its outcome under a named rule version (health data: every read audited)."""

    __tablename__ = "triage_assessments"
    __table_args__ = (
        CheckConstraint(f"urgency IN ({_URGENCIES})", name="urgency"),
        # A red flag is always an emergency; the database keeps the two from drifting apart.
        CheckConstraint("go_offline = false OR urgency = 'emergency'", name="offline_is_emergency"),
        Index("ix_triage_assessments_user", "asked_by_user_id", "id"),
        Index("ix_triage_assessments_patient", "patient_id", "id"),
    )

    asked_by_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    # The patient it was about, when the person said; None when they triaged without choosing one.
    patient_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=True
    )
    rules_version: Mapped[str] = mapped_column(String(32), nullable=False)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    urgency: Mapped[str] = mapped_column(String(16), nullable=False)
    advice: Mapped[str] = mapped_column(String(32), nullable=False)
    go_offline: Mapped[bool] = mapped_column(Boolean, nullable=False)
    red_flags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
