"""Clinical-record tables: records and their versions (FHIR R4 Composition), prior offline diagnoses
(Condition), regional first-visit policies.

A signed version is never updated: every write to a version carries `signed_at IS NULL` in its WHERE,
and an amendment is a new version pointing at the one it corrects. No row here is deleted within the
retention period (medical records: 15 years).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.records.enums import PriorSource
from regio.core.db import Base, BigId, IdMixin, UTCDateTime, utcnow

USERS_ID = "users.id"


class ClinicalRecord(IdMixin, Base):
    """The record (病历) of one consultation; its content lives in numbered versions."""

    __tablename__ = "records_clinical_records"
    __table_args__ = (
        # One record per consultation: two first writes at once make one record, not two.
        UniqueConstraint("consultation_id"),
        CheckConstraint("latest_version >= 1", name="latest_version"),
        Index("ix_records_clinical_records_patient", "patient_id", "created_at"),
        Index("ix_records_clinical_records_hospital", "hospital_id", "created_at"),
    )

    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="RESTRICT"), nullable=False
    )
    # Copied from the consultation when the record is opened: access and retention need them
    # without a join, and a consultation's parties never change.
    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    doctor_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="RESTRICT"), nullable=False
    )
    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="RESTRICT"), nullable=False
    )
    region_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    # Presenting symptoms (triage vocabulary), which a first-visit policy's scope may name.
    symptom_codes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    # For a child under 6: who was present (NULL: not recorded yet). A prescription needs both.
    guardian_present: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    specialist_present: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    specialist_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class RecordVersion(IdMixin, Base):
    """One version of a record's content: a draft until signed, then locked for good."""

    __tablename__ = "records_record_versions"
    __table_args__ = (
        # Two amendments at once: one takes the next number, the other is refused.
        UniqueConstraint("record_id", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("revision >= 0", name="revision"),
        CheckConstraint(
            "(signed_at IS NULL) = (content_hash IS NULL) AND (signed_at IS NULL) = (signed_by_user_id IS NULL)",
            name="signature_whole",
        ),
        CheckConstraint("version = 1 OR previous_version_id IS NOT NULL", name="amends_previous"),
    )

    record_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("records_clinical_records.id", ondelete="RESTRICT"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    previous_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("records_record_versions.id", ondelete="RESTRICT"), nullable=True
    )
    amendment_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    advice: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # [{code, name_zh, name_en, visit_type, prior_id, policy_key, policy_version}], in the order written.
    diagnoses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # Bumped by every draft edit; signing names the revision it read, so an edit in between wins no race.
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The actor, as on the audit trail (a plain id: the platform itself acts as no user).
    created_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    signed_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True
    )
    # SHA-256 over the signed content and the previous version's hash (a chain per record).
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PriorDiagnosis(IdMixin, Base):
    """A diagnosis made offline, which makes a later online visit for the same condition a follow-up."""

    __tablename__ = "records_prior_diagnoses"
    __table_args__ = (
        CheckConstraint("source IN (" + ", ".join(f"'{s.value}'" for s in PriorSource) + ")", name="source"),
        CheckConstraint(
            "source <> 'uploaded_record' OR attachment_ref IS NOT NULL", name="upload_has_attachment"
        ),
        CheckConstraint("length(category) = 3", name="category"),
        CheckConstraint(
            "(confirmed_by_doctor_id IS NULL) = (confirmed_at IS NULL)", name="confirmation_whole"
        ),
        Index("ix_records_prior_diagnoses_patient", "patient_id", "category"),
    )

    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    icd10_code: Mapped[str] = mapped_column(String(8), nullable=False)
    category: Mapped[str] = mapped_column(String(3), nullable=False)  # the ICD-10 category, code[:3]
    diagnosed_on: Mapped[date] = mapped_column(Date, nullable=False)
    hospital_name: Mapped[str] = mapped_column(String(200), nullable=False)
    hospital_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="RESTRICT"), nullable=True
    )
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    # The uploaded document: a consultation attachment's reference or another opaque reference.
    attachment_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    confirmed_by_doctor_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="RESTRICT"), nullable=True
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_in_consultation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="RESTRICT"), nullable=True
    )
    # The actor, as on the audit trail (a plain id: the platform itself acts as no user).
    created_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class FirstVisitPolicy(IdMixin, Base):
    """One version of a regional first-visit policy: where, when (Shanghai days, both ends) and for what."""

    __tablename__ = "records_first_visit_policies"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("valid_to >= valid_from", name="period"),
        CheckConstraint("length(region_adcode) = 6", name="region_adcode"),
        Index("ix_records_first_visit_policies_region", "region_adcode", "valid_from"),
    )

    key: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    region_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    source: Mapped[str] = mapped_column(Text, nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date] = mapped_column(Date, nullable=False)
    icd10_categories: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    symptom_codes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    from_file: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The actor, as on the audit trail (a plain id: the platform itself acts as no user).
    created_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
