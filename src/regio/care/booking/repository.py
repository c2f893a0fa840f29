"""Booking queries. Places move only through conditional UPDATEs here; nothing in this module commits."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, bindparam, func, select, text, update
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
from regio.care.patients.models import BindingStatus
from regio.core.db import UTCDateTime

ACTIVE = [AppointmentStatus.held.value, AppointmentStatus.confirmed.value]


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# ---- places ----------------------------------------------------------------------------------------
#
# The booking hot path is written as fixed statements (built once, their compiled form cached)
# rather than ORM queries built per request: a request that books a place spends most of its
# time in statement construction and result processing otherwise, not in the database.

_HELD = AppointmentStatus.held.value
_OPEN = SlotStatus.open.value
# An active binding lets a user act for a patient (the patients subdomain's rule, read in SQL here
# so that the booking check costs no round trip of its own; patients_service says the same).
_BOUND = (
    "EXISTS (SELECT 1 FROM patient_bindings b WHERE b.user_id = :user_id "  # noqa: S608 (only constants are formatted in)
    f"AND b.patient_id = :patient_id AND b.status = '{BindingStatus.active.value}')"
)
_HAS_DUE = (
    "EXISTS (SELECT 1 FROM booking_appointments d WHERE d.slot_id = :slot_id "  # noqa: S608 (only constants are formatted in)
    f"AND d.status = '{_HELD}' AND d.hold_expires_at <= :now)"
)

_TAKE_PLACE = (
    text(
        "UPDATE booking_slots SET booked = booked + 1, version = version + 1 "  # noqa: S608 (only constants are formatted in)
        f"WHERE id = :slot_id AND status = '{_OPEN}' AND start_at > :now AND booked < capacity + extra "
        "RETURNING booked, capacity, doctor_id, hospital_id, local_date, modes"
    )
    .bindparams(bindparam("now", type_=UTCDateTime))
    .columns(local_date=Date)
)

_OUTLOOK = (
    text(
        f"SELECT {_BOUND} AS bound, s.id AS slot_id_found, s.status, s.start_at, s.booked, s.capacity, "  # noqa: S608 (only constants are formatted in)
        f"s.extra, {_HAS_DUE} AS has_due, n.occurred_at "
        "FROM (SELECT 1 AS one) AS here "
        "LEFT JOIN booking_slots s ON s.id = :slot_id "
        "LEFT JOIN booking_no_shows n ON n.patient_id = :patient_id AND n.occurred_at >= :since"
    )
    .bindparams(bindparam("now", type_=UTCDateTime), bindparam("since", type_=UTCDateTime))
    .columns(start_at=UTCDateTime, occurred_at=UTCDateTime)
)


@dataclass(frozen=True, slots=True)
class SlotState:
    status: str
    start_at: datetime
    booked: int
    capacity: int
    extra: int
    has_due: bool  # holds past their time still occupy places (expired before refusing)


@dataclass(frozen=True, slots=True)
class BookingOutlook:
    bound: bool  # the user has an active binding to the patient
    slot: SlotState | None  # None: no such slot
    no_shows: list[datetime]  # the patient's no-shows since the window's start


async def take_place(session: AsyncSession, slot_id: int, *, now: datetime) -> Any:
    """Takes one place if any is left, in one statement: the WHERE is the capacity check."""
    result = await session.execute(_TAKE_PLACE, {"slot_id": slot_id, "now": now})
    return result.first()


async def booking_outlook(
    session: AsyncSession,
    *,
    user_id: int,
    slot_id: int,
    patient_id: int,
    now: datetime,
    no_shows_since: datetime,
) -> BookingOutlook:
    """In one round trip: whether the user may act for the patient, the slot's state, the no-shows.

    The slot part is only a hint taken outside the write transaction: it may refuse a slot seen
    full, started or closed, but only take_place decides that a place is given.
    """
    rows = (
        await session.execute(
            _OUTLOOK,
            {
                "user_id": user_id,
                "patient_id": patient_id,
                "slot_id": slot_id,
                "now": now,
                "since": no_shows_since,
            },
        )
    ).all()
    first = rows[0]
    slot = None
    if first.slot_id_found is not None:
        slot = SlotState(
            status=first.status,
            start_at=first.start_at,
            booked=first.booked,
            capacity=first.capacity,
            extra=first.extra,
            has_due=bool(first.has_due),
        )
    no_shows = [row.occurred_at for row in rows if row.occurred_at is not None]
    return BookingOutlook(bound=bool(first.bound), slot=slot, no_shows=no_shows)


# PostgreSQL runs a whole hold as one statement: data-modifying CTEs see one snapshot and either
# all apply or none. The UPDATE's WHERE is still the capacity check (and waits on the row lock of
# a concurrent taker, then re-checks), the partial unique index still decides one booking per
# patient, doctor and day (DO NOTHING leaves `made` empty; the caller rolls the place back), and
# the audit entry is inserted by the same statement. The closing SELECT says why nothing was
# taken, from the statement's snapshot.
_ONE_STATEMENT_PG = (
    text(
        "WITH gate AS (SELECT "  # noqa: S608 (only constants are formatted in)
        f"{_BOUND} AS bound, "
        "EXISTS (SELECT 1 FROM booking_no_shows n WHERE n.patient_id = :patient_id "
        "AND n.occurred_at >= :since) AS has_no_shows), "
        "taken AS (UPDATE booking_slots s SET booked = s.booked + 1, version = s.version + 1 FROM gate "
        f"WHERE s.id = :slot_id AND s.status = '{_OPEN}' AND s.start_at > :now "
        "AND s.booked < s.capacity + s.extra AND gate.bound AND NOT gate.has_no_shows "
        "RETURNING s.id, s.booked, s.capacity, s.doctor_id, s.hospital_id, s.local_date, s.modes), "
        "made AS (INSERT INTO booking_appointments (slot_id, patient_id, booked_by_user_id, doctor_id, "
        "hospital_id, local_date, day_seat, mode, status, hold_expires_at, is_extra, via_waitlist, version, "
        "created_at, updated_at) "
        "SELECT t.id, CAST(:patient_id AS BIGINT), CAST(:user_id AS BIGINT), t.doctor_id, t.hospital_id, "
        "t.local_date, 1, COALESCE(CAST(:mode AS VARCHAR), split_part(t.modes, ',', 1)), "
        f"'{_HELD}', CAST(:hold_until AS TIMESTAMPTZ), t.booked > t.capacity, false, 1, "
        "CAST(:now AS TIMESTAMPTZ), CAST(:now AS TIMESTAMPTZ) FROM taken t "
        # a mode the slot does not offer inserts nothing; the caller refuses it (invalid_mode)
        "WHERE CAST(:mode AS VARCHAR) IS NULL OR CAST(:mode AS VARCHAR) = ANY(string_to_array(t.modes, ',')) "
        "ON CONFLICT (patient_id, doctor_id, local_date, day_seat) "
        f"WHERE status IN ('{_HELD}', '{AppointmentStatus.confirmed.value}') DO NOTHING "
        "RETURNING id, mode, is_extra), "
        "audited AS (INSERT INTO audit_entries (occurred_at, actor_user_id, actor_client_id, actor_username, "
        "roles, action, object_type, object_id, details, ip, user_agent, request_id) "
        "SELECT CAST(:a_occurred_at AS TIMESTAMPTZ), CAST(:a_user_id AS BIGINT), "
        "CAST(:a_client_id AS BIGINT), CAST(:a_username AS VARCHAR), CAST(:a_roles AS JSON), "
        "CAST(:a_action AS VARCHAR), CAST(:a_object_type AS VARCHAR), CAST(m.id AS VARCHAR), "
        "CASE WHEN m.is_extra THEN CAST(:a_details_extra AS JSON) ELSE CAST(:a_details AS JSON) END, "
        "CAST(:a_ip AS VARCHAR), CAST(:a_user_agent AS VARCHAR), CAST(:a_request_id AS VARCHAR) FROM made m) "
        "SELECT g.bound, g.has_no_shows, s.id AS slot_id_found, s.status, s.start_at, "
        f"{_HAS_DUE} AS has_due, t.booked, t.capacity, t.doctor_id, t.hospital_id, t.local_date, "
        "t.modes, m.id AS appointment_id, m.mode "
        "FROM gate g LEFT JOIN booking_slots s ON s.id = :slot_id "
        "LEFT JOIN taken t ON true LEFT JOIN made m ON true"
    )
    .bindparams(bindparam("now", type_=UTCDateTime), bindparam("since", type_=UTCDateTime))
    .columns(start_at=UTCDateTime, local_date=Date)
)


@dataclass(frozen=True, slots=True)
class TakenPlace:
    """What the conditional UPDATE hands back with the place it gave."""

    booked: int
    capacity: int
    doctor_id: int
    hospital_id: int
    local_date: date
    modes: str


@dataclass(frozen=True, slots=True)
class OneStatementHold:
    """What the one-statement hold did, and what it saw when it did nothing."""

    bound: bool  # the user has an active binding to the patient
    has_no_shows: bool  # the patient has no-shows in the window (then nothing is taken)
    slot_status: str | None  # None: no such slot
    slot_start_at: datetime | None
    has_due: bool  # holds past their time occupy the slot
    taken: TakenPlace | None
    appointment_id: int | None  # None: no place, or no appointment (the place must be rolled back)
    mode: str | None


async def hold_in_one_statement(
    session: AsyncSession,
    *,
    user_id: int,
    slot_id: int,
    patient_id: int,
    mode: str | None,
    now: datetime,
    hold_until: datetime,
    no_shows_since: datetime,
    audit_entry: dict[str, Any],
    audit_details_extra: dict[str, Any],
) -> OneStatementHold:
    """PostgreSQL only: binding and no-show gate, place, appointment in day seat 1 and audit, in one round trip."""
    row = (
        await session.execute(
            _ONE_STATEMENT_PG,
            {
                "user_id": user_id,
                "patient_id": patient_id,
                "slot_id": slot_id,
                "mode": mode,
                "now": now,
                "since": no_shows_since,
                "hold_until": hold_until,
                "a_occurred_at": audit_entry["occurred_at"],
                "a_user_id": audit_entry["actor_user_id"],
                "a_client_id": audit_entry["actor_client_id"],
                "a_username": audit_entry["actor_username"],
                "a_roles": json.dumps(audit_entry["roles"], ensure_ascii=False),
                "a_action": audit_entry["action"],
                "a_object_type": audit_entry["object_type"],
                "a_details": json.dumps(audit_entry["details"], ensure_ascii=False),
                "a_details_extra": json.dumps(audit_details_extra, ensure_ascii=False),
                "a_ip": audit_entry["ip"],
                "a_user_agent": audit_entry["user_agent"],
                "a_request_id": audit_entry["request_id"],
            },
        )
    ).one()
    taken = None
    if row.booked is not None:
        taken = TakenPlace(
            row.booked, row.capacity, row.doctor_id, row.hospital_id, row.local_date, row.modes
        )
    return OneStatementHold(
        bound=bool(row.bound),
        has_no_shows=bool(row.has_no_shows),
        slot_status=None if row.slot_id_found is None else row.status,
        slot_start_at=row.start_at,
        has_due=bool(row.has_due),
        taken=taken,
        appointment_id=None if row.appointment_id is None else int(row.appointment_id),
        mode=row.mode,
    )


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


# Slot reads refresh objects already in the session: places move by plain UPDATEs (take_place),
# which do not touch the identity map.
async def get_slot(session: AsyncSession, slot_id: int) -> Slot | None:
    return (
        await session.execute(
            select(Slot).where(Slot.id == slot_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def get_slot_with_shift(session: AsyncSession, slot_id: int) -> tuple[Slot, Shift] | None:
    row = (
        await session.execute(
            select(Slot, Shift)
            .join(Shift, Shift.id == Slot.shift_id)
            .where(Slot.id == slot_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def slots_with_shifts(session: AsyncSession, slot_ids: Iterable[int]) -> dict[int, tuple[Slot, Shift]]:
    ids = list(set(slot_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(Slot, Shift)
        .join(Shift, Shift.id == Slot.shift_id)
        .where(Slot.id.in_(ids))
        .execution_options(populate_existing=True)
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


def _insert_appointment_statement(insert: Any) -> Any:
    return (
        insert(Appointment.__table__)
        .on_conflict_do_nothing(
            index_elements=["patient_id", "doctor_id", "local_date", "day_seat"],
            index_where=text("status IN ('held', 'confirmed')"),
        )
        .returning(Appointment.__table__.c.id)
    )


# Built once per dialect, so that each insert pays only for its execution.
_INSERT_APPOINTMENT = {
    "postgresql": _insert_appointment_statement(pg_insert),
    "sqlite": _insert_appointment_statement(sqlite_insert),
}


async def insert_appointment(session: AsyncSession, values: dict[str, Any], *, max_seats: int) -> int | None:
    """Inserts an active appointment in the first free day seat; None when all N seats are taken."""
    statement = _INSERT_APPOINTMENT[session.get_bind().dialect.name]
    for seat in range(1, max_seats + 1):
        result = await session.execute(statement, {**values, "day_seat": seat})
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
