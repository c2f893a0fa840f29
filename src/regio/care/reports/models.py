"""Report tables: a report per hospital report number (FHIR R4 DiagnosticReport), its pushed versions, and
each version's observations with their reference ranges and computed flags.

A version is never updated: a changed push is a new version, so what the patient saw stays on record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.reports.enums import Flag, ReportKind, ReportStatus
from regio.core.db import Base, BigId, IdMixin, UTCDateTime, one_of, utcnow


class Report(IdMixin, Base):
    """One hospital report (检验/检查报告), known by the hospital's report number; content in versions."""

    __tablename__ = "reports_reports"
    __table_args__ = (
        # The hospital's report number names one report: two first pushes at once make one report.
        UniqueConstraint("hospital_id", "identifier"),
        CheckConstraint(one_of("kind", [k.value for k in ReportKind]), name="kind"),
        CheckConstraint(one_of("status", [s.value for s in ReportStatus]), name="status"),
        CheckConstraint("latest_version >= 0", name="latest_version"),
        Index("ix_reports_reports_patient", "patient_id", "issued_at"),
    )

    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="RESTRICT"), nullable=False
    )
    identifier: Mapped[str] = mapped_column(String(64), nullable=False)
    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    # Copied from the newest version, so that lists need no join: 0 until the first version lands.
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    out_of_range: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ReportVersion(IdMixin, Base):
    """One pushed version of a report; a repeat of the same content is recognised by its hash."""

    __tablename__ = "reports_report_versions"
    __table_args__ = (
        UniqueConstraint("report_id", "version"),
        # The same content twice is one version: a retried push at the same moment adds nothing.
        UniqueConstraint("report_id", "content_hash"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(one_of("status", [s.value for s in ReportStatus]), name="status"),
    )

    report_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("reports_reports.id", ondelete="RESTRICT"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    code_system: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    code: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    code_text: Mapped[str] = mapped_column(String(200), nullable=False)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    conclusion: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # SHA-256 over the canonical JSON of what was read from the push (not its bytes: key order and
    # whitespace do not make a new version).
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    pushed_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    pushed_by_client_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Observation(IdMixin, Base):
    """One result line of a version (FHIR R4 Observation): a number with its unit, or a text result."""

    __tablename__ = "reports_observations"
    __table_args__ = (
        UniqueConstraint("version_id", "position"),
        CheckConstraint(one_of("flag", [f.value for f in Flag]), name="flag"),
        CheckConstraint("(value IS NULL) <> (value_text IS NULL)", name="one_value"),
        CheckConstraint("low IS NULL OR high IS NULL OR low <= high", name="range_order"),
    )

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("reports_report_versions.id", ondelete="RESTRICT"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    code_system: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    code: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    code_text: Mapped[str] = mapped_column(String(200), nullable=False)
    # A lab value is a measurement, not money: a double keeps every digit a hospital sends (15+).
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_text: Mapped[str | None] = mapped_column(String(500), nullable=True)
    unit: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    ucum_code: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    low: Mapped[float | None] = mapped_column(Float, nullable=True)
    high: Mapped[float | None] = mapped_column(Float, nullable=True)
    range_text: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    flag: Mapped[str] = mapped_column(String(8), nullable=False)
    # The hospital's own interpretation code (v3-ObservationInterpretation), kept beside ours.
    interpretation: Mapped[str] = mapped_column(String(16), nullable=False, default="")
