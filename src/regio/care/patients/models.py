"""Patients (就诊人) with real-name identity stored encrypted, and their bindings to user accounts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.patients.idnumber import Sex
from regio.core.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, utcnow

# Purposes bound into each ciphertext and look-up hash (see core/crypto.py); renaming one makes
# every stored value of that field unreadable, so they are fixed strings, not derived names.
ID_NUMBER_PURPOSE = "patients.id_number"
PHONE_PURPOSE = "patients.phone"

USERS_ID = "users.id"


class Relation(StrEnum):
    """What the patient is to the user holding the binding: 本人, 配偶, 父母, 子女, 其他."""

    self_ = "self"
    spouse = "spouse"
    parent = "parent"
    child = "child"
    other = "other"


class BindingStatus(StrEnum):
    pending = "pending"  # waiting for the person (or a minor's guardian) to consent
    active = "active"
    ended = "ended"  # declined, withdrawn or unbound; kept as history, never deleted


class EndReason(StrEnum):
    declined = "declined"
    withdrawn = "withdrawn"
    unbound = "unbound"


class ClaimPurpose(StrEnum):
    """What a one-time code sent to the phone on a record proves."""

    self_ = "self"  # I am this person: make my account theirs (and take it back from another account)
    consent = "consent"  # the person agrees to a pending binding by handing the requester the code


def _enum(kind: type[StrEnum], name: str) -> Enum:
    # Plain VARCHAR with a CHECK constraint: the same on SQLite and PostgreSQL, and adding a
    # value later is a constraint change, not an ALTER TYPE.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class Patient(IdMixin, TimestampMixin, Base):
    """One real person, registered once: the identity number's keyed hash is unique."""

    __tablename__ = "patients"

    name: Mapped[str] = mapped_column(String(50), nullable=False)
    id_number_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    id_number_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    phone_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # Not unique: family members often share one phone.
    phone_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    sex: Mapped[Sex] = mapped_column(_enum(Sex, "patient_sex"), nullable=False)
    # The account that IS this person, if they have one; one person, one account.
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True, unique=True
    )
    created_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True, index=True
    )


class PatientBinding(IdMixin, TimestampMixin, Base):
    """就诊人绑定: a user may act for a patient while the binding is active."""

    __tablename__ = "patient_bindings"
    __table_args__ = (
        # At most one binding that is not ended per user × patient: decided by the database,
        # so two racing requests cannot both open one. Partial indexes work on both engines.
        Index(
            "uq_patient_bindings_open_pair",
            "user_id",
            "patient_id",
            unique=True,
            sqlite_where=text("status <> 'ended'"),
            postgresql_where=text("status <> 'ended'"),
        ),
        # One "self" per account.
        Index(
            "uq_patient_bindings_one_self",
            "user_id",
            unique=True,
            sqlite_where=text("relation = 'self' AND status <> 'ended'"),
            postgresql_where=text("relation = 'self' AND status <> 'ended'"),
        ),
    )

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False, index=True
    )
    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    relation: Mapped[Relation] = mapped_column(_enum(Relation, "patient_relation"), nullable=False)
    is_guardian: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[BindingStatus] = mapped_column(_enum(BindingStatus, "binding_status"), nullable=False)
    requested_by_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    accepted_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True
    )
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=True
    )
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_reason: Mapped[EndReason | None] = mapped_column(
        _enum(EndReason, "binding_end_reason"), nullable=True
    )


class BindingRequest(IdMixin, Base):
    """就诊人绑定申请 by identity number: recorded whether or not the number is registered yet.

    A request for a registered person carries its pending binding; one for a number nobody has
    registered waits (binding_id NULL) and becomes a pending binding when the person is
    registered. Both look the same to the requester, so requests cannot probe who is registered.
    """

    __tablename__ = "patient_binding_requests"
    __table_args__ = (
        # One waiting request per user × number; a matched one is guarded by the binding's own index.
        Index(
            "uq_patient_binding_requests_waiting",
            "user_id",
            "id_number_hash",
            unique=True,
            sqlite_where=text("binding_id IS NULL AND withdrawn_at IS NULL"),
            postgresql_where=text("binding_id IS NULL AND withdrawn_at IS NULL"),
        ),
    )

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False, index=True
    )
    id_number_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    relation: Mapped[Relation] = mapped_column(_enum(Relation, "binding_request_relation"), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    binding_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("patient_bindings.id", ondelete="RESTRICT"), nullable=True, unique=True
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PatientClaim(IdMixin, Base):
    """A one-time code sent to the phone on a record, kept only as a keyed hash, for one purpose.

    A claim whose details matched no record has patient_id NULL and a hash of a code nobody
    was sent: it fails exactly like a wrong code, so the answer never tells whether the phone
    matched. `expected_user_id` is the account the record had when the code was sent; the
    claim succeeds only if that is still so (decided by a conditional UPDATE).
    """

    __tablename__ = "patient_claims"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey(USERS_ID, ondelete="RESTRICT"), nullable=False, index=True
    )
    purpose: Mapped[ClaimPurpose] = mapped_column(_enum(ClaimPurpose, "claim_purpose"), nullable=False)
    patient_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    binding_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("patient_bindings.id", ondelete="RESTRICT"), nullable=True
    )
    expected_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    code_nonce: Mapped[str] = mapped_column(String(32), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class LookupCounter(Base):
    """How many identity look-ups (registrations, binding requests, claims, codes) a user made in an hour.

    Incremented by one conditional upsert, so the limit holds however many requests race.
    """

    __tablename__ = "patient_lookup_counters"
    __table_args__ = (UniqueConstraint("user_id", "window_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey(USERS_ID, ondelete="CASCADE"), nullable=False)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
