"""Booking tables, mapped onto FHIR R4: roster templates and shifts (Schedule), slots (Slot), appointments.

Every instant is stored in UTC; `local_date` is the calendar day in Asia/Shanghai, kept beside
the instants because rules (one booking per doctor per day, coverage) are about Chinese days.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.booking.enums import (
    AppointmentStatus,
    NotificationKind,
    ShiftStatus,
    SlotStatus,
    WaitlistStatus,
)
from regio.core.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, one_of, utcnow

_ACTIVE = "status IN ('held', 'confirmed')"


class RosterTemplate(IdMixin, TimestampMixin, Base):
    """A weekly roster line (FHIR Schedule's planning): doctor X serves department Y on weekday Z, 08:00–12:00."""

    __tablename__ = "booking_roster_templates"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes"),
        CheckConstraint("capacity_per_slot BETWEEN 1 AND 1000", name="capacity"),
        CheckConstraint("fee_fen >= 0", name="fee"),
        Index("ix_booking_roster_templates_hospital", "hospital_id", "active"),
    )

    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="CASCADE"), nullable=False
    )
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    doctor_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="CASCADE"), nullable=False
    )
    weekday: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # Monday 0, as date.weekday()
    start_time: Mapped[time] = mapped_column(Time, nullable=False)  # local (Asia/Shanghai)
    end_time: Mapped[time] = mapped_column(Time, nullable=False)  # at or before start: ends next day
    modes: Mapped[str] = mapped_column(String(32), nullable=False)
    slot_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    capacity_per_slot: Mapped[int] = mapped_column(Integer, nullable=False)
    fee_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


class Shift(IdMixin, TimestampMixin, Base):
    """A doctor on duty online for a department in one time window (排班); FHIR Schedule for that window."""

    __tablename__ = "booking_shifts"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in ShiftStatus]), name="status"),
        CheckConstraint("end_at > start_at", name="window"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes"),
        CheckConstraint("capacity_per_slot BETWEEN 1 AND 1000", name="capacity"),
        CheckConstraint("fee_fen >= 0", name="fee"),
        # Materialising a template twice (two workers, a rerun) makes one shift per day, not two.
        UniqueConstraint("template_id", "local_date"),
        Index("ix_booking_shifts_coverage", "hospital_id", "local_date", "status"),
        Index("ix_booking_shifts_doctor", "doctor_id", "local_date"),
    )

    template_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("booking_roster_templates.id", ondelete="SET NULL"), nullable=True
    )
    hospital_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hospitals.id", ondelete="CASCADE"), nullable=False
    )
    # Copied from the hospital when the shift is made, so availability filters by city without a join.
    city_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    hospital_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    doctor_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="CASCADE"), nullable=False
    )
    doctor_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    doctor_title: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    modes: Mapped[str] = mapped_column(String(32), nullable=False)
    slot_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    capacity_per_slot: Mapped[int] = mapped_column(Integer, nullable=False)
    fee_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ShiftStatus.scheduled.value)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class Slot(IdMixin, Base):
    """A bookable window with places (号源, FHIR Slot). `booked` only moves by conditional UPDATEs."""

    __tablename__ = "booking_slots"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in SlotStatus]), name="status"),
        CheckConstraint("capacity >= 0 AND extra >= 0", name="places"),
        # The last line of defence: whatever the code does, the database never holds an overbooking.
        CheckConstraint("booked >= 0 AND booked <= capacity + extra", name="booked"),
        Index("ix_booking_slots_department_day", "department_code", "local_date", "start_at"),
        Index("ix_booking_slots_doctor_day", "doctor_id", "local_date", "start_at"),
        Index("ix_booking_slots_hospital_day", "hospital_id", "local_date", "start_at"),
        Index("ix_booking_slots_city_day", "city_adcode", "local_date", "department_code"),
        Index("ix_booking_slots_shift", "shift_id"),
    )

    shift_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("booking_shifts.id", ondelete="CASCADE"), nullable=False
    )
    hospital_id: Mapped[int] = mapped_column(BigId, nullable=False)
    city_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    department_code: Mapped[str] = mapped_column(String(32), nullable=False)
    doctor_id: Mapped[int] = mapped_column(BigId, nullable=False)
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    modes: Mapped[str] = mapped_column(String(32), nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    # 加号: extra places granted by the doctor or an admin, counted apart from the roster's capacity.
    extra: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    booked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=SlotStatus.open.value)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class Appointment(IdMixin, TimestampMixin, Base):
    """A place in a slot for a patient (FHIR Appointment): held, then confirmed, or cancelled/expired/no-show."""

    __tablename__ = "booking_appointments"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in AppointmentStatus]), name="status"),
        CheckConstraint("day_seat >= 1", name="day_seat"),
        # At most N active bookings per patient, doctor and day: seat 1..N, each seat unique while
        # active. The database decides, so two racing requests cannot both take seat 1.
        Index(
            "uq_booking_appointments_patient_doctor_day",
            "patient_id",
            "doctor_id",
            "local_date",
            "day_seat",
            unique=True,
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
        Index("ix_booking_appointments_slot", "slot_id", "status"),
        Index("ix_booking_appointments_patient", "patient_id", "created_at"),
        Index("ix_booking_appointments_booker", "booked_by_user_id", "created_at"),
        Index("ix_booking_appointments_hold_expiry", "status", "hold_expires_at"),
        Index("ix_booking_appointments_doctor_day", "doctor_id", "local_date"),
    )

    slot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("booking_slots.id", ondelete="RESTRICT"), nullable=False
    )
    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    booked_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
    )
    # Copied from the slot for the one-per-doctor-per-day index and the doctor's day list.
    doctor_id: Mapped[int] = mapped_column(BigId, nullable=False)
    hospital_id: Mapped[int] = mapped_column(BigId, nullable=False)
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    day_seat: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=AppointmentStatus.held.value)
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    is_extra: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    via_waitlist: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class WaitlistEntry(IdMixin, TimestampMixin, Base):
    """A patient waiting for a place in a full slot; the first waiting is offered a freed place."""

    __tablename__ = "booking_waitlist"
    __table_args__ = (
        CheckConstraint(one_of("status", [s.value for s in WaitlistStatus]), name="status"),
        Index(
            "uq_booking_waitlist_waiting",
            "slot_id",
            "patient_id",
            unique=True,
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
        Index("ix_booking_waitlist_queue", "slot_id", "status", "id"),
        Index("ix_booking_waitlist_patient", "patient_id", "status"),
    )

    slot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("booking_slots.id", ondelete="CASCADE"), nullable=False
    )
    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
    )
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=WaitlistStatus.waiting.value)
    appointment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("booking_appointments.id", ondelete="SET NULL"), nullable=True
    )


class NoShow(IdMixin, Base):
    """A patient who did not come to a confirmed appointment (爽约); counted for the booking ban."""

    __tablename__ = "booking_no_shows"
    __table_args__ = (Index("ix_booking_no_shows_patient", "patient_id", "occurred_at"),)

    patient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False
    )
    appointment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("booking_appointments.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    recorded_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class DoctorLeave(IdMixin, Base):
    """A doctor's leave (停诊): the shifts it cancelled are those of this doctor in the period."""

    __tablename__ = "booking_doctor_leaves"

    doctor_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("doctors.id", ondelete="CASCADE"), nullable=False, index=True
    )
    hospital_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    from_date: Mapped[date] = mapped_column(Date, nullable=False)
    to_date: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    shifts_cancelled: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    appointments_cancelled: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    recorded_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Notification(IdMixin, Base):
    """站内信: a message to a user about their booking, written by the outbox handler (once per message)."""

    __tablename__ = "booking_notifications"
    __table_args__ = (
        CheckConstraint(one_of("kind", [k.value for k in NotificationKind]), name="kind"),
        Index("ix_booking_notifications_user", "user_id", "id"),
    )

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    appointment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    text_zh: Mapped[str] = mapped_column(Text, nullable=False)
    text_en: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # The outbox delivers at least once; the message id makes a redelivery a no-op.
    outbox_message_id: Mapped[int] = mapped_column(BigId, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
