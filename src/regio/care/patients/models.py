"""Patients (就诊人) with real-name identity stored encrypted, and their bindings to user accounts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, Enum, ForeignKey, Index, LargeBinary, String, text
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
