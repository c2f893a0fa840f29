"""Prescription tables: the drug catalog, doctors' sealed signing keys, prescriptions (FHIR R4
MedicationRequest), pharmacies and their stock, fulfilment (pickup or delivery), courier events and
dispenses (FHIR MedicationDispense).

A prescription is part of the medical record, kept at least 15 years: no row here is deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.prescription.enums import Delivery, Method, PharmacyKind, Status
from regio.core.db import Base, BigId, IdMixin, UTCDateTime, one_of, utcnow

USERS_ID = "users.id"


class Drug(IdMixin, Base):
    """One catalog entry (a generic drug in one form and strength), keyed by the platform's code."""

    __tablename__ = "prescription_drugs"
    __table_args__ = (UniqueConstraint("code"),)

    code: Mapped[str] = mapped_column(String(16), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str] = mapped_column(String(150), nullable=False)
    brands: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    dosage_form: Mapped[str] = mapped_column(String(50), nullable=False)
    strength: Mapped[str] = mapped_column(String(80), nullable=False)
    atc: Mapped[str] = mapped_column(String(7), nullable=False, index=True)
    rx: Mapped[bool] = mapped_column(Boolean, nullable=False)
    insurance_class: Mapped[str | None] = mapped_column(String(4), nullable=True)
    control: Mapped[str] = mapped_column(String(16), nullable=False)
    dose_unit: Mapped[str] = mapped_column(String(8), nullable=False)
    adult_usual_daily: Mapped[float | None] = mapped_column(Float, nullable=True)
    adult_max_daily: Mapped[float | None] = mapped_column(Float, nullable=True)
    child_mg_per_kg_daily_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    child_min_age_years: Mapped[float | None] = mapped_column(Float, nullable=True)
    pregnancy: Mapped[str | None] = mapped_column(String(8), nullable=True)
    lactation: Mapped[str | None] = mapped_column(String(8), nullable=True)
    cold_chain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    # Lower-case names, brands and pinyin initials in one string, so one LIKE finds any of them.
    search_text: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class SigningKey(IdMixin, Base):
    """A doctor's Ed25519 key; the private half sealed under a PIN only the doctor knows."""

    __tablename__ = "prescription_signing_keys"
    __table_args__ = (
        UniqueConstraint("key_id"),
        # One key in use per doctor; a replaced key stays for verifying what it signed.
        Index(
            "uq_prescription_signing_keys_active",
            "doctor_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    doctor_id: Mapped[int] = mapped_column(BigId, ForeignKey("doctors.id"), nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    salt: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    nonce: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    kdf: Mapped[str] = mapped_column(String(64), nullable=False)
    certificate_pem: Mapped[str | None] = mapped_column(Text, nullable=True)  # once a CA certifies it
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Prescription(IdMixin, Base):
    """One e-prescription written in a consultation (FHIR R4 MedicationRequest group)."""

    __tablename__ = "prescriptions"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in Status]), name="status"),
        CheckConstraint(one_of("kind", ["ordinary", "emergency", "long_term"]), name="kind"),
        Index("ix_prescriptions_queue", "hospital_id", "status", "submitted_at"),
        Index("ix_prescriptions_patient", "patient_id", "created_at"),
        Index("ix_prescriptions_doctor", "doctor_id", "created_at"),
    )

    consultation_id: Mapped[int] = mapped_column(BigId, ForeignKey("consultations.id"), nullable=False)
    patient_id: Mapped[int] = mapped_column(BigId, ForeignKey("patients.id"), nullable=False)
    doctor_id: Mapped[int] = mapped_column(BigId, ForeignKey("doctors.id"), nullable=False)
    hospital_id: Mapped[int] = mapped_column(BigId, ForeignKey("hospitals.id"), nullable=False)
    repeat_of_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("prescriptions.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=Status.draft.value)
    diagnoses: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    # The patient facts the checks ran on (weight, pregnancy, lactation, allergies), as the doctor gave them.
    patient_facts: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    overrides: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewer_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey(USERS_ID), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # Set by payment once the drugs are paid for; nothing is shipped or handed over before.
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey(USERS_ID), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Pharmacy(IdMixin, Base):
    """A hospital pharmacy or a designated retail pharmacy (定点零售药店) that dispenses."""

    __tablename__ = "prescription_pharmacies"
    __table_args__ = (
        CheckConstraint(one_of("kind", [k.value for k in PharmacyKind]), name="kind"),
        Index("ix_prescription_pharmacies_region", "region_adcode"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    hospital_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("hospitals.id"), nullable=True)
    region_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    address: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    phone: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    delivers: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    cold_chain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Stock(IdMixin, Base):
    """Units of a drug a pharmacy holds; taking from it is a conditional UPDATE that never goes below 0."""

    __tablename__ = "prescription_stock"
    __table_args__ = (
        UniqueConstraint("pharmacy_id", "drug_code"),
        CheckConstraint("quantity >= 0", name="quantity"),
    )

    pharmacy_id: Mapped[int] = mapped_column(BigId, ForeignKey("prescription_pharmacies.id"), nullable=False)
    drug_code: Mapped[str] = mapped_column(String(16), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Fulfilment(IdMixin, Base):
    """How an approved prescription reaches the patient: pickup with a one-time code, or delivery."""

    __tablename__ = "prescription_fulfilments"
    __table_args__ = (
        # One live choice per prescription; a failed delivery ends its row and the patient chooses again.
        Index(
            "uq_prescription_fulfilments_live",
            "prescription_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        # A pickup code names one waiting prescription at its pharmacy.
        Index(
            "uq_prescription_fulfilments_open_code",
            "pharmacy_id",
            "pickup_code",
            unique=True,
            sqlite_where=text("pickup_code IS NOT NULL AND pickup_used_at IS NULL"),
            postgresql_where=text("pickup_code IS NOT NULL AND pickup_used_at IS NULL"),
        ),
        UniqueConstraint("tracking_id"),
        CheckConstraint(one_of("method", [m.value for m in Method]), name="method"),
        CheckConstraint(
            "delivery_status IS NULL OR " + one_of("delivery_status", [d.value for d in Delivery]),
            name="delivery_status",
        ),
    )

    prescription_id: Mapped[int] = mapped_column(BigId, ForeignKey("prescriptions.id"), nullable=False)
    pharmacy_id: Mapped[int] = mapped_column(BigId, ForeignKey("prescription_pharmacies.id"), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    pickup_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pickup_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recipient_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    recipient_phone: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    address: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    cold_chain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    courier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tracking_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    delivery_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    delivery_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey(USERS_ID), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # a failed delivery


class CourierEvent(IdMixin, Base):
    """One status report from a courier; the unique event id makes a repeated report change nothing."""

    __tablename__ = "prescription_courier_events"
    __table_args__ = (UniqueConstraint("courier", "event_id"),)

    courier: Mapped[str] = mapped_column(String(32), nullable=False)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    tracking_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    applied: Mapped[bool] = mapped_column(Boolean, nullable=False)  # false: stale, kept for the record
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Dispense(IdMixin, Base):
    """Drugs handed over for a prescription (FHIR R4 MedicationDispense), once."""

    __tablename__ = "prescription_dispenses"
    __table_args__ = (UniqueConstraint("prescription_id"),)

    prescription_id: Mapped[int] = mapped_column(BigId, ForeignKey("prescriptions.id"), nullable=False)
    pharmacy_id: Mapped[int] = mapped_column(BigId, ForeignKey("prescription_pharmacies.id"), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    dispensed_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey(USERS_ID), nullable=True)
    quantities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    dispensed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
