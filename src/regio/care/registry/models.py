"""Registry tables: internet hospitals, their departments, doctors and their practice sites, pharmacists."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from regio.care.registry.enums import DoctorTitle, HospitalLevel, HospitalStatus
from regio.core.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, one_of, utcnow


class Hospital(IdMixin, TimestampMixin, Base):
    """An internet hospital (互联网医院) holding a licence from a regional health commission."""

    __tablename__ = "hospitals"
    __table_args__ = (
        CheckConstraint(one_of("level", [level.value for level in HospitalLevel]), name="level"),
        CheckConstraint(one_of("status", [status.value for status in HospitalStatus]), name="status"),
        CheckConstraint("licence_valid_to >= licence_valid_from", name="licence_period"),
        CheckConstraint("length(city_adcode) = 6", name="city_adcode"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_hospitals_listing", "status", "city_adcode"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    # A plain GB/T 2260 code, not a foreign key: the geography subdomain loads China's divisions later.
    city_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    # The province, kept beside the city because regional admins and sharding key on it.
    region_adcode: Mapped[str] = mapped_column(String(6), nullable=False, index=True)
    address: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    licence_no: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    licence_valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    licence_valid_to: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=HospitalStatus.approved.value)
    # Bumped by every change; clients send it back in If-Match so a stale write gets 412.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    departments: Mapped[list[HospitalDepartment]] = relationship(
        back_populates="hospital",
        lazy="raise",
        order_by="HospitalDepartment.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class HospitalDepartment(IdMixin, Base):
    """A department from the standard list that a hospital offers online."""

    __tablename__ = "hospital_departments"
    __table_args__ = (UniqueConstraint("hospital_id", "department_code"),)

    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="CASCADE"), nullable=False
    )
    department_code: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    hospital: Mapped[Hospital] = relationship(back_populates="departments", lazy="raise")


class Doctor(IdMixin, TimestampMixin, Base):
    """A licensed physician; may practise at several hospitals (多点执业)."""

    __tablename__ = "doctors"
    __table_args__ = (CheckConstraint(one_of("title", [title.value for title in DoctorTitle]), name="title"),)

    real_name: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    # 医师执业证书编码: personal data, shown in full only to admins.
    licence_no: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(16), nullable=False)
    independent_practice_since: Mapped[date] = mapped_column(Date, nullable=False)
    real_name_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )

    practice_sites: Mapped[list[PracticeSite]] = relationship(
        back_populates="doctor",
        lazy="raise",
        order_by="PracticeSite.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class PracticeSite(IdMixin, Base):
    """Where a doctor practises: one department of one hospital."""

    __tablename__ = "doctor_practice_sites"
    __table_args__ = (UniqueConstraint("doctor_id", "hospital_id", "department_code"),)

    doctor_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="CASCADE"), nullable=False
    )
    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    doctor: Mapped[Doctor] = relationship(back_populates="practice_sites", lazy="raise")
    hospital: Mapped[Hospital] = relationship(lazy="raise")


class Pharmacist(IdMixin, TimestampMixin, Base):
    """A licensed pharmacist (执业药师) who reviews prescriptions for one hospital."""

    __tablename__ = "pharmacists"

    real_name: Mapped[str] = mapped_column(String(100), nullable=False)
    licence_no: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )

    hospital: Mapped[Hospital] = relationship(lazy="raise")
