"""Booking queries. Places move only through conditional UPDATEs here; nothing in this module commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking.enums import AppointmentStatus, ShiftStatus, SlotStatus, WaitlistStatus
from regio.care.booking.models import (
    Appointment,
    DoctorLeave,
    NoShow,
    Notification,
    RosterTemplate,
    Shift,
    Slot,
    WaitlistEntry,
)

ACTIVE = [AppointmentStatus.held.value, AppointmentStatus.confirmed.value]


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# ---- places ----------------------------------------------------------------------------------------


async def take_place(session: AsyncSession, slot_id: int, *, now: datetime) -> Any:
    """Takes one place if any is left, in one statement: the WHERE is the capacity check."""
    result = await session.execute(
        update(Slot)
        .where(
            Slot.id == slot_id,
            Slot.status == SlotStatus.open.value,
            Slot.start_at > now,
            Slot.booked < Slot.capacity + Slot.extra,
        )
        .values(booked=Slot.booked + 1, version=Slot.version + 1)
        .returning(Slot.booked, Slot.capacity, Slot.doctor_id, Slot.hospital_id, Slot.local_date, Slot.modes)
    )
    return result.first()


async def booking_outlook(
    session: AsyncSession, slot_id: int, patient_id: int, *, now: datetime, no_shows_since: datetime
) -> tuple[Any, list[datetime]]:
    """In one round trip: a slot's state (None if no slot) and the patient's no-shows since a time.

    The slot part is only a hint taken outside the write transaction: it may refuse a slot seen
    full, started or closed, but only take_place decides that a place is given. `has_due` says
    whether holds past their time still occupy the slot (they are expired before refusing).
    """
    due = (
        select(Appointment.id)
        .where(
            Appointment.slot_id == Slot.id,
            Appointment.status == AppointmentStatus.held.value,
            Appointment.hold_expires_at <= now,
        )
        .exists()
    )
    rows = (
        await session.execute(
            select(
                Slot.status,
                Slot.start_at,
                Slot.booked,
                Slot.capacity,
                Slot.extra,
                due.label("has_due"),
                NoShow.occurred_at,
            )
            .select_from(Slot)
            .outerjoin(NoShow, and_(NoShow.patient_id == patient_id, NoShow.occurred_at >= no_shows_since))
            .where(Slot.id == slot_id)
        )
    ).all()
    if not rows:
        return None, await no_show_times(session, patient_id, since=no_shows_since)
    return rows[0], [row.occurred_at for row in rows if row.occurred_at is not None]


async def release_places(session: AsyncSession, slot_id: int, count: int = 1) -> None:
    await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked >= count)
        .values(booked=Slot.booked - count, version=Slot.version + 1)
    )


async def add_extra(session: AsyncSession, slot_id: int, places: int, *, now: datetime) -> Any:
    result = await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.status == SlotStatus.open.value, Slot.end_at > now)
        .values(extra=Slot.extra + places, version=Slot.version + 1)
        .returning(Slot.extra, Slot.capacity, Slot.booked)
    )
    return result.first()


async def get_slot(session: AsyncSession, slot_id: int) -> Slot | None:
    return (await session.execute(select(Slot).where(Slot.id == slot_id))).scalar_one_or_none()


async def get_slot_with_shift(session: AsyncSession, slot_id: int) -> tuple[Slot, Shift] | None:
    row = (
        await session.execute(
            select(Slot, Shift).join(Shift, Shift.id == Slot.shift_id).where(Slot.id == slot_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def slots_with_shifts(session: AsyncSession, slot_ids: Iterable[int]) -> dict[int, tuple[Slot, Shift]]:
    ids = list(set(slot_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(Slot, Shift).join(Shift, Shift.id == Slot.shift_id).where(Slot.id.in_(ids))
    )
    return {slot.id: (slot, shift) for slot, shift in rows.all()}


async def search_slots(
    session: AsyncSession,
    *,
    now: datetime,
    city: str | None,
    hospital_id: int | None,
    department: str | None,
    doctor_id: int | None,
    day: date | None,
    mode: str | None,
    available_only: bool,
    limit: int,
    offset: int = 0,
) -> list[tuple[Slot, Shift]]:
    query = (
        select(Slot, Shift)
        .join(Shift, Shift.id == Slot.shift_id)
        .where(Slot.status == SlotStatus.open.value, Slot.start_at > now)
    )
    if city:
        query = query.where(Slot.city_adcode == city)
    if hospital_id:
        query = query.where(Slot.hospital_id == hospital_id)
    if department:
        query = query.where(Slot.department_code == department)
    if doctor_id:
        query = query.where(Slot.doctor_id == doctor_id)
    if day:
        query = query.where(Slot.local_date == day)
    if mode:
        query = query.where(Slot.modes.contains(mode))
    if available_only:
        query = query.where(Slot.booked < Slot.capacity + Slot.extra)
    rows = await session.execute(query.order_by(Slot.start_at, Slot.id).offset(offset).limit(limit))
    return [(slot, shift) for slot, shift in rows.all()]


# ---- appointments ------------------------------------------------------------------------------------


async def insert_appointment(session: AsyncSession, values: dict[str, Any], *, max_seats: int) -> int | None:
    """Inserts an active appointment in the first free day seat; None when all N seats are taken."""
    for seat in range(1, max_seats + 1):
        result = await session.execute(
            _insert(session)(Appointment)
            .values(**values, day_seat=seat)
            .on_conflict_do_nothing(
                index_elements=["patient_id", "doctor_id", "local_date", "day_seat"],
                index_where=text("status IN ('held', 'confirmed')"),
            )
            .returning(Appointment.id)
        )
        inserted = result.scalar_one_or_none()
        if inserted is not None:
            return int(inserted)
    return None


async def get_appointment(session: AsyncSession, appointment_id: int) -> Appointment | None:
    return (
        await session.execute(
            select(Appointment)
            .where(Appointment.id == appointment_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def change_appointment(
    session: AsyncSession,
    appointment_id: int,
    *,
    from_statuses: Sequence[str],
    values: dict[str, Any],
    extra_where: Sequence[Any] = (),
) -> Any:
    """Moves an appointment on only if it is still in one of `from_statuses` (the race is the WHERE's)."""
    result = await session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status.in_(list(from_statuses)), *extra_where)
        .values(**values, version=Appointment.version + 1)
        .returning(Appointment.id, Appointment.slot_id, Appointment.patient_id, Appointment.booked_by_user_id)
    )
    return result.first()


async def expire_due_holds(
    session: AsyncSession, *, now: datetime, slot_id: int | None = None, limit: int = 500
) -> list[Any]:
    """Expires holds past their time; returns (id, slot_id, patient_id, booked_by_user_id, via_waitlist)."""
    due = select(Appointment.id).where(
        Appointment.status == AppointmentStatus.held.value, Appointment.hold_expires_at <= now
    )
    if slot_id is not None:
        due = due.where(Appointment.slot_id == slot_id)
    result = await session.execute(
        update(Appointment)
        .where(
            Appointment.id.in_(due.order_by(Appointment.hold_expires_at).limit(limit).scalar_subquery()),
            Appointment.status == AppointmentStatus.held.value,
        )
        .values(
            status=AppointmentStatus.expired.value,
            ended_at=now,
            cancel_reason="expired",
            version=Appointment.version + 1,
        )
        .returning(
            Appointment.id,
            Appointment.slot_id,
            Appointment.patient_id,
            Appointment.booked_by_user_id,
            Appointment.via_waitlist,
        )
    )
    return list(result.all())


async def has_due_holds(session: AsyncSession, *, now: datetime, slot_id: int) -> bool:
    found = await session.execute(
        select(Appointment.id)
        .where(
            Appointment.slot_id == slot_id,
            Appointment.status == AppointmentStatus.held.value,
            Appointment.hold_expires_at <= now,
        )
        .limit(1)
    )
    return found.first() is not None


async def appointments_of_patients(
    session: AsyncSession, patient_ids: Iterable[int], *, limit: int = 100
) -> list[Appointment]:
    ids = list(patient_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(Appointment)
        .where(Appointment.patient_id.in_(ids))
        .order_by(Appointment.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def appointments_in_slots(
    session: AsyncSession, slot_ids: Iterable[int], *, statuses: Sequence[str] | None = None
) -> list[Appointment]:
    ids = list(slot_ids)
    if not ids:
        return []
    query = select(Appointment).where(Appointment.slot_id.in_(ids))
    if statuses is not None:
        query = query.where(Appointment.status.in_(list(statuses)))
    rows = await session.execute(query.order_by(Appointment.slot_id, Appointment.id))
    return list(rows.scalars())


async def cancel_active_in_slots(
    session: AsyncSession, slot_ids: Sequence[int], *, now: datetime, reason: str
) -> list[Any]:
    if not slot_ids:
        return []
    result = await session.execute(
        update(Appointment)
        .where(Appointment.slot_id.in_(list(slot_ids)), Appointment.status.in_(ACTIVE))
        .values(
            status=AppointmentStatus.cancelled.value,
            ended_at=now,
            cancel_reason=reason,
            version=Appointment.version + 1,
        )
        .returning(
            Appointment.id,
            Appointment.slot_id,
            Appointment.patient_id,
            Appointment.booked_by_user_id,
            Appointment.hospital_id,
        )
    )
    return list(result.all())


# ---- waitlist ----------------------------------------------------------------------------------------


async def join_waitlist(session: AsyncSession, values: dict[str, Any]) -> int | None:
    result = await session.execute(
        _insert(session)(WaitlistEntry)
        .values(**values, status=WaitlistStatus.waiting.value)
        .on_conflict_do_nothing(
            index_elements=["slot_id", "patient_id"], index_where=text("status = 'waiting'")
        )
        .returning(WaitlistEntry.id)
    )
    found = result.scalar_one_or_none()
    return int(found) if found is not None else None


async def next_waiting(session: AsyncSession, slot_id: int, *, after_id: int = 0) -> WaitlistEntry | None:
    rows = await session.execute(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.slot_id == slot_id,
            WaitlistEntry.status == WaitlistStatus.waiting.value,
            WaitlistEntry.id > after_id,
        )
        .order_by(WaitlistEntry.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return rows.scalar_one_or_none()


async def change_waitlist(
    session: AsyncSession, entry_id: int, *, from_status: str, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == from_status)
        .values(**values, updated_at=func.now())
        .returning(WaitlistEntry.id)
    )
    return result.first() is not None


async def get_waitlist_entry(session: AsyncSession, entry_id: int) -> WaitlistEntry | None:
    return (
        await session.execute(
            select(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def waitlist_position(session: AsyncSession, entry: WaitlistEntry) -> int:
    ahead = await session.scalar(
        select(func.count()).where(
            WaitlistEntry.slot_id == entry.slot_id,
            WaitlistEntry.status == WaitlistStatus.waiting.value,
            WaitlistEntry.id <= entry.id,
        )
    )
    return int(ahead or 0)


async def waitlist_of_patients(session: AsyncSession, patient_ids: Iterable[int]) -> list[WaitlistEntry]:
    ids = list(patient_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(WaitlistEntry)
        .where(WaitlistEntry.patient_id.in_(ids), WaitlistEntry.status == WaitlistStatus.waiting.value)
        .order_by(WaitlistEntry.id)
    )
    return list(rows.scalars())


async def cancel_waitlists(session: AsyncSession, slot_ids: Sequence[int]) -> None:
    if slot_ids:
        await session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.slot_id.in_(list(slot_ids)),
                WaitlistEntry.status == WaitlistStatus.waiting.value,
            )
            .values(status=WaitlistStatus.cancelled.value)
        )


# ---- no-shows ----------------------------------------------------------------------------------------


async def no_show_times(session: AsyncSession, patient_id: int, *, since: datetime) -> list[datetime]:
    rows = await session.execute(
        select(NoShow.occurred_at).where(NoShow.patient_id == patient_id, NoShow.occurred_at >= since)
    )
    return list(rows.scalars())


async def add_no_show(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(NoShow(**values))
    await session.flush()


# ---- rosters -----------------------------------------------------------------------------------------


async def add_template(session: AsyncSession, values: dict[str, Any]) -> RosterTemplate:
    template = RosterTemplate(**values)
    session.add(template)
    await session.flush()
    return template


async def get_template(session: AsyncSession, template_id: int) -> RosterTemplate | None:
    return (
        await session.execute(select(RosterTemplate).where(RosterTemplate.id == template_id))
    ).scalar_one_or_none()


async def templates_of(
    session: AsyncSession, *, hospital_id: int | None, active_only: bool = True
) -> list[RosterTemplate]:
    query = select(RosterTemplate)
    if hospital_id is not None:
        query = query.where(RosterTemplate.hospital_id == hospital_id)
    if active_only:
        query = query.where(RosterTemplate.active.is_(True))
    rows = await session.execute(
        query.order_by(RosterTemplate.weekday, RosterTemplate.start_time, RosterTemplate.id)
    )
    return list(rows.scalars())


async def insert_shift(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Inserts a shift; a template's second shift on one day is ignored (None), decided by the unique key."""
    statement = _insert(session)(Shift).values(**values, status=ShiftStatus.scheduled.value, version=1)
    if values.get("template_id") is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["template_id", "local_date"])
    result = await session.execute(statement.returning(Shift.id))
    found = result.scalar_one_or_none()
    return int(found) if found is not None else None


async def insert_slots(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_insert(session)(Slot), rows)


async def get_shift(session: AsyncSession, shift_id: int) -> Shift | None:
    return (
        await session.execute(
            select(Shift).where(Shift.id == shift_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def slots_of_shifts(session: AsyncSession, shift_ids: Iterable[int]) -> list[Slot]:
    ids = list(shift_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(Slot)
        .where(Slot.shift_id.in_(ids))
        .order_by(Slot.start_at, Slot.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def shifts(
    session: AsyncSession,
    *,
    hospital_ids: Iterable[int] | None = None,
    doctor_id: int | None = None,
    from_date: date,
    to_date: date,
    scheduled_only: bool = False,
) -> list[Shift]:
    query = select(Shift).where(Shift.local_date >= from_date, Shift.local_date <= to_date)
    if hospital_ids is not None:
        query = query.where(Shift.hospital_id.in_(list(hospital_ids)))
    if doctor_id is not None:
        query = query.where(Shift.doctor_id == doctor_id)
    if scheduled_only:
        query = query.where(Shift.status == ShiftStatus.scheduled.value)
    rows = await session.execute(query.order_by(Shift.start_at, Shift.id))
    return list(rows.scalars())


async def cancel_shifts(session: AsyncSession, shift_ids: Sequence[int], *, reason: str) -> list[int]:
    if not shift_ids:
        return []
    result = await session.execute(
        update(Shift)
        .where(Shift.id.in_(list(shift_ids)), Shift.status == ShiftStatus.scheduled.value)
        .values(status=ShiftStatus.cancelled.value, cancel_reason=reason[:200], version=Shift.version + 1)
        .returning(Shift.id)
    )
    cancelled = [int(value) for value in result.scalars()]
    if cancelled:
        await session.execute(
            update(Slot)
            .where(Slot.shift_id.in_(cancelled))
            .values(status=SlotStatus.cancelled.value, booked=0, version=Slot.version + 1)
        )
    return cancelled


async def slot_ids_of_shifts(session: AsyncSession, shift_ids: Sequence[int]) -> list[int]:
    if not shift_ids:
        return []
    rows = await session.execute(select(Slot.id).where(Slot.shift_id.in_(list(shift_ids))))
    return [int(value) for value in rows.scalars()]


async def alternatives(
    session: AsyncSession,
    *,
    hospital_id: int,
    department: str,
    exclude_doctor_id: int,
    after: datetime,
    limit: int = 3,
) -> list[tuple[Slot, Shift]]:
    """Open slots with places in the same hospital and department, soonest first, with other doctors."""
    rows = await session.execute(
        select(Slot, Shift)
        .join(Shift, Shift.id == Slot.shift_id)
        .where(
            Slot.hospital_id == hospital_id,
            Slot.department_code == department,
            Slot.doctor_id != exclude_doctor_id,
            Slot.status == SlotStatus.open.value,
            Slot.start_at > after,
            Slot.booked < Slot.capacity + Slot.extra,
        )
        .order_by(Slot.start_at, Slot.id)
        .limit(limit)
    )
    return [(slot, shift) for slot, shift in rows.all()]


async def add_leave(session: AsyncSession, values: dict[str, Any]) -> DoctorLeave:
    leave = DoctorLeave(**values)
    session.add(leave)
    await session.flush()
    return leave


async def windows_for_coverage(
    session: AsyncSession, *, hospital_ids: Sequence[int], from_date: date, to_date: date
) -> list[Any]:
    """(hospital_id, department_code, start_at, end_at) of scheduled shifts touching the days."""
    if not hospital_ids:
        return []
    rows = await session.execute(
        select(Shift.hospital_id, Shift.department_code, Shift.start_at, Shift.end_at).where(
            Shift.hospital_id.in_(list(hospital_ids)),
            Shift.status == ShiftStatus.scheduled.value,
            # a shift from the evening before can run into the first day
            Shift.local_date >= from_date - timedelta(days=1),
            Shift.local_date <= to_date,
        )
    )
    return list(rows.all())


# ---- notifications -----------------------------------------------------------------------------------


async def add_notification(session: AsyncSession, values: dict[str, Any]) -> bool:
    result = await session.execute(
        _insert(session)(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["outbox_message_id"])
        .returning(Notification.id)
    )
    return result.first() is not None


async def notifications_of(session: AsyncSession, user_id: int, *, limit: int = 50) -> list[Notification]:
    rows = await session.execute(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def mark_notifications_read(session: AsyncSession, user_id: int, *, now: datetime) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
