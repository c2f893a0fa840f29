"""Booking's only writer: rosters, slots, holds, confirmation, cancellation, waitlist, 加号, no-shows, leave.

Every write is one transaction with its audit entries and outbox messages. Places are taken
and given back only by conditional UPDATEs on the slot row (`booked < capacity + extra` is the
UPDATE's own WHERE) and the one-booking-per-doctor-per-day rule is a partial unique index, so
the database, not Python, decides every race. On SQLite a write transaction starts with
BEGIN IMMEDIATE: the single writer lock is taken before anything is read, so a transaction
never reads a snapshot it then cannot write on.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking import errors, policies, repository
from regio.care.booking.enums import (
    ACTIVE_APPOINTMENT,
    AppointmentStatus,
    CancelReason,
    NotificationKind,
    SlotStatus,
    WaitlistStatus,
)
from regio.care.booking.models import Appointment, RosterTemplate, Shift, Slot, WaitlistEntry
from regio.care.booking.policies import SHANGHAI, Action, Target
from regio.care.booking.schemas import (
    AppointmentOut,
    CoverageOut,
    GapOut,
    LeaveIn,
    LeaveOut,
    MaterialiseOut,
    NoShowOut,
    NotificationOut,
    ShiftIn,
    ShiftOut,
    SlotOut,
    TemplateIn,
    TemplateOut,
    WaitlistOut,
)
from regio.care.patients import service as patients_service
from regio.care.patients.errors import NotBoundToPatient
from regio.care.registry import service as registry_service
from regio.care.registry.schemas import DepartmentOut, HospitalOut
from regio.care.triage import service as triage_service
from regio.care.triage.errors import GoOffline
from regio.config import Settings
from regio.core import audit, idempotency, outbox
from regio.core.access import SYSTEM as CORE_SYSTEM
from regio.core.access import Principal, Role, require
from regio.core.db import Database, is_sqlite, transaction, utcnow, write_transaction
from regio.core.errors import DomainError, Forbidden

log = logging.getLogger("regio.booking")

# The platform itself: expiring holds, materialising rosters, offering freed places.
SYSTEM = CORE_SYSTEM

TOPIC_OFFER = "care.booking.waitlist_offer"
TOPIC_EXPIRED = "care.booking.hold_expired"
TOPIC_CANCELLED = "care.booking.cancelled_by_hospital"
# For later subdomains (payment refunds a paid booking): any cancellation, by the patient or the hospital.
TOPIC_APPOINTMENT_ENDED = "care.booking.appointment_cancelled"
TOPICS = (TOPIC_OFFER, TOPIC_EXPIRED, TOPIC_CANCELLED)

MAX_LEAVE_DAYS = 90
MAX_COVERAGE_DAYS = 60
MAX_SLOT_PAGE = 200


# ---- views -------------------------------------------------------------------------------------------


def _hm(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%H:%M")


def _slot_view(slot: Slot, shift: Shift) -> SlotOut:
    places = slot.capacity + slot.extra
    return SlotOut(
        id=slot.id,
        shift_id=slot.shift_id,
        hospital_id=slot.hospital_id,
        hospital_name=shift.hospital_name,
        city_adcode=slot.city_adcode,
        department_code=slot.department_code,
        doctor_id=slot.doctor_id,
        doctor_name=shift.doctor_name,
        doctor_title=shift.doctor_title,
        local_date=slot.local_date,
        start_at=slot.start_at,
        end_at=slot.end_at,
        start_local=_hm(slot.start_at),
        end_local=_hm(slot.end_at),
        modes=slot.modes.split(","),
        capacity=slot.capacity,
        extra=slot.extra,
        booked=slot.booked,
        remaining=max(0, places - slot.booked) if slot.status == SlotStatus.open.value else 0,
        fee_fen=shift.fee_fen,
        status=slot.status,
    )


def _shift_view(shift: Shift, slots: list[Slot] | None = None) -> ShiftOut:
    return ShiftOut(
        id=shift.id,
        template_id=shift.template_id,
        hospital_id=shift.hospital_id,
        hospital_name=shift.hospital_name,
        department_code=shift.department_code,
        doctor_id=shift.doctor_id,
        doctor_name=shift.doctor_name,
        local_date=shift.local_date,
        start_at=shift.start_at,
        end_at=shift.end_at,
        start_local=_hm(shift.start_at),
        end_local=_hm(shift.end_at),
        modes=shift.modes.split(","),
        slot_minutes=shift.slot_minutes,
        capacity_per_slot=shift.capacity_per_slot,
        fee_fen=shift.fee_fen,
        status=shift.status,
        cancel_reason=shift.cancel_reason,
        slots=[_slot_view(slot, shift) for slot in slots or []],
    )


def _appointment_view(
    appointment: Appointment, *, now: datetime, slot: SlotOut | None = None
) -> AppointmentOut:
    status = appointment.status
    # A hold past its time is expired whether or not the expiry job has run yet.
    if (
        status == AppointmentStatus.held.value
        and appointment.hold_expires_at is not None
        and appointment.hold_expires_at <= now
    ):
        status = AppointmentStatus.expired.value
    return AppointmentOut(
        id=appointment.id,
        slot_id=appointment.slot_id,
        patient_id=appointment.patient_id,
        booked_by_user_id=appointment.booked_by_user_id,
        doctor_id=appointment.doctor_id,
        hospital_id=appointment.hospital_id,
        local_date=appointment.local_date,
        mode=appointment.mode,
        status=status,
        hold_expires_at=appointment.hold_expires_at,
        is_extra=appointment.is_extra,
        via_waitlist=appointment.via_waitlist,
        confirmed_at=appointment.confirmed_at,
        ended_at=appointment.ended_at,
        cancel_reason=appointment.cancel_reason,
        slot=slot,
    )


def _template_view(template: RosterTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        hospital_id=template.hospital_id,
        department_code=template.department_code,
        doctor_id=template.doctor_id,
        weekday=template.weekday,
        start_time=template.start_time,
        end_time=template.end_time,
        modes=template.modes.split(","),
        slot_minutes=template.slot_minutes,
        capacity_per_slot=template.capacity_per_slot,
        fee_fen=template.fee_fen,
        valid_from=template.valid_from,
        valid_to=template.valid_to,
        active=template.active,
    )


def _when(instant: datetime) -> tuple[str, str]:
    local = instant.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}", f"{local:%Y-%m-%d %H:%M}"


# ---- reference ---------------------------------------------------------------------------------------


def departments() -> dict[str, DepartmentOut]:
    return {department.code: department for department in registry_service.list_departments()}


def department_code(name: str | None) -> str | None:
    """The standard code for a code or a Chinese/English name; raises UnknownDepartment when unknown."""
    if not name:
        return None
    wanted = name.strip().lower()
    for department in departments().values():
        if wanted in (department.code, department.name_zh.lower(), department.name_en.lower()):
            return department.code
    raise errors.UnknownDepartment(value=name)


def _mode(slot_modes: str, wanted: str | None) -> str:
    offered = slot_modes.split(",")
    if wanted is None:
        return offered[0]
    if wanted not in offered:
        raise errors.InvalidMode(value=wanted, offered=offered)
    return wanted


async def _own_doctor_id(session: AsyncSession, principal: Principal) -> int | None:
    if principal.user_id is None or not principal.has_role(Role.doctor):
        return None
    doctor = await registry_service.doctor_for_user(session=session, user_id=principal.user_id)
    return doctor.id if doctor else None


def _target_of(record: Slot | Shift) -> Target:
    """What a policy needs to know about a slot or a shift: whose hospital, region and doctor."""
    return Target(
        hospital_id=record.hospital_id,
        region_adcode=policies.region_of(record.city_adcode),
        doctor_id=record.doctor_id,
    )


# ---- availability ------------------------------------------------------------------------------------


async def search_slots(
    *,
    session: AsyncSession,
    principal: Principal,
    city: str | None = None,
    hospital_id: int | None = None,
    department: str | None = None,
    doctor_id: int | None = None,
    day: date | None = None,
    mode: str | None = None,
    available_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[SlotOut]:
    """Open future slots matching the filters, soonest first, with the places left in each."""
    code = department_code(department)
    if mode is not None and policies.parse_modes([mode]) is None:
        raise errors.InvalidMode(value=mode)
    rows = await repository.search_slots(
        session,
        now=now or utcnow(),
        city=city,
        hospital_id=hospital_id,
        department=code,
        doctor_id=doctor_id,
        day=day,
        mode=mode,
        available_only=available_only,
        limit=max(1, min(limit, MAX_SLOT_PAGE)),
        offset=max(0, offset),
    )
    return [_slot_view(slot, shift) for slot, shift in rows]


async def get_slot(*, session: AsyncSession, principal: Principal, slot_id: int) -> SlotOut:
    """One slot with its places."""
    found = await repository.get_slot_with_shift(session, slot_id)
    if found is None:
        raise errors.SlotNotFound(slot_id=slot_id)
    return _slot_view(*found)


def suggest_least_crowded(slots: list[SlotOut], count: int = 3) -> list[SlotOut]:
    """The slots with the largest share of places left (分时段: spread patients out), soonest first on ties."""
    open_slots = [slot for slot in slots if slot.remaining > 0]
    return sorted(
        open_slots, key=lambda slot: (-slot.remaining / max(1, slot.capacity + slot.extra), slot.start_at)
    )[:count]


# ---- booking -----------------------------------------------------------------------------------------


def _no_show_window(settings: Settings) -> timedelta:
    return timedelta(days=settings.booking_no_show_window_days + settings.booking_no_show_ban_days)


def _refuse_if_banned(settings: Settings, patient_id: int, times: list[datetime], now: datetime) -> None:
    until = policies.ban_until(
        times,
        now=now,
        limit=settings.booking_no_show_limit,
        window_days=settings.booking_no_show_window_days,
        ban_days=settings.booking_no_show_ban_days,
    )
    if until is not None:
        zh, _ = _when(until)
        raise errors.BookingBanned(
            patient_id=patient_id,
            until=until.isoformat(),
            until_local=zh,
            count=settings.booking_no_show_limit,
            window_days=settings.booking_no_show_window_days,
        )


async def _why_not_bookable(session: AsyncSession, slot_id: int, now: datetime) -> Exception:
    slot = await repository.get_slot(session, slot_id)
    if slot is None:
        return errors.SlotNotFound(slot_id=slot_id)
    if slot.status != SlotStatus.open.value or slot.start_at <= now:
        return errors.SlotUnavailable(slot_id=slot_id)
    return errors.SlotFull(slot_id=slot_id)


async def book(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    slot_id: int,
    patient_id: int,
    mode: str | None = None,
    idempotency_request: idempotency.IdempotentRequest | None = None,
    now: datetime | None = None,
    triage_assessment_id: int | None = None,
) -> AppointmentOut:
    """Holds a place in a slot for a patient the principal may act for; 409 slot_full when none is left."""
    require(policies.acts_as_patient(principal), action="book")
    now = now or utcnow()
    if triage_assessment_id is not None:
        await _require_online_care(session, principal, triage_assessment_id)
    # PostgreSQL holds in one statement; the step-by-step path below is SQLite's (no data-modifying
    # CTEs there), and PostgreSQL's for the rare cases the one statement leaves to it.
    if not is_sqlite(session):
        held = await _hold_in_one_statement(
            session=session,
            settings=settings,
            principal=principal,
            slot_id=slot_id,
            patient_id=patient_id,
            mode=mode,
            idempotency_request=idempotency_request,
            now=now,
        )
        if held is not None:
            return held
    # Everything that only reads runs before the write transaction, so that on SQLite the single
    # writer lock covers just the statements that must be atomic. A refusal here is safe to give
    # without the lock (binding, ban and a slot seen full, closed or started only refuse); every
    # place given is still decided by take_place's conditional UPDATE below.
    outlook = await repository.booking_outlook(
        session,
        user_id=_person_id(principal),
        slot_id=slot_id,
        patient_id=patient_id,
        now=now,
        no_shows_since=now - _no_show_window(settings),
    )
    if not outlook.bound:
        raise NotBoundToPatient(patient_id=patient_id)
    _refuse_if_banned(settings, patient_id, outlook.no_shows, now)
    if outlook.slot is None:
        raise errors.SlotNotFound(slot_id=slot_id)
    if outlook.slot.status != SlotStatus.open.value or outlook.slot.start_at <= now:
        raise errors.SlotUnavailable(slot_id=slot_id)
    if outlook.slot.booked >= outlook.slot.capacity + outlook.slot.extra and not outlook.slot.has_due:
        raise errors.SlotFull(slot_id=slot_id)
    try:
        return await _hold(
            session=session,
            settings=settings,
            principal=principal,
            slot_id=slot_id,
            patient_id=patient_id,
            mode=mode,
            idempotency_request=idempotency_request,
            now=now,
        )
    except _NoPlace:
        pass
    # the transaction is rolled back and the lock released: finding out why costs others nothing
    raise await _why_not_bookable(session, slot_id, now)


async def _require_online_care(session: AsyncSession, principal: Principal, assessment_id: int) -> None:
    """A triage that found danger signs refuses online booking for that complaint.

    The check reads health data, so it is audited whether it passes or refuses; it commits on its
    own, before the booking's write transaction, so that SQLite's writer lock is not taken early.
    """
    refusal: GoOffline | None = None
    async with transaction(session):
        try:
            await triage_service.require_online_allowed(
                session, principal=principal, assessment_id=assessment_id
            )
        except GoOffline as exc:
            refusal = exc
    if refusal is not None:
        raise refusal


def _person_id(principal: Principal) -> int:
    # acts_as_patient admits only people, who always have a user id
    assert principal.user_id is not None
    return principal.user_id


class _NoPlace(Exception):
    """The conditional UPDATE gave no place: leave the write transaction at once."""


class _NotHeld(Exception):
    """The one-statement hold gave no appointment: roll the transaction back, then say why."""

    def __init__(self, outcome: repository.OneStatementHold) -> None:
        super().__init__("not held")
        self.outcome = outcome


async def _hold_in_one_statement(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    slot_id: int,
    patient_id: int,
    mode: str | None,
    idempotency_request: idempotency.IdempotentRequest | None,
    now: datetime,
) -> AppointmentOut | None:
    """PostgreSQL: the whole hold in one statement, in the transaction the principal was read in.

    Returns None for the rare cases that need the step-by-step path: a patient with recent
    no-shows (the ban is judged on their times), holds past their time that still occupy the
    slot (they are expired first), and a second day seat when more than one is allowed.
    """
    hold_until = now + timedelta(minutes=settings.booking_hold_minutes)
    details = {"slot_id": slot_id, "patient_id": patient_id, "is_extra": False}
    entry = audit.entry_values(
        principal, "appointment.hold", object_type="appointment", object_id=None, details=details
    )
    try:
        async with transaction(session):
            await idempotency.claim(session, idempotency_request, now=now)
            outcome = await repository.hold_in_one_statement(
                session,
                user_id=_person_id(principal),
                slot_id=slot_id,
                patient_id=patient_id,
                mode=mode,
                now=now,
                hold_until=hold_until,
                no_shows_since=now - _no_show_window(settings),
                audit_entry=entry,
                audit_details_extra={**entry["details"], "is_extra": True},
            )
            if outcome.appointment_id is None or outcome.taken is None:
                raise _NotHeld(outcome)  # rolls back the place, if one was taken
            taken = outcome.taken
            is_extra = taken.booked > taken.capacity
            view = AppointmentOut(
                id=outcome.appointment_id,
                slot_id=slot_id,
                patient_id=patient_id,
                booked_by_user_id=principal.user_id,
                doctor_id=taken.doctor_id,
                hospital_id=taken.hospital_id,
                local_date=taken.local_date,
                mode=outcome.mode,
                status=AppointmentStatus.held.value,
                hold_expires_at=hold_until,
                is_extra=is_extra,
                via_waitlist=False,
                confirmed_at=None,
                ended_at=None,
                cancel_reason=None,
            )
            await idempotency.settle(
                session, idempotency_request, status=201, body=view.model_dump(mode="json")
            )
        return view
    except _NotHeld as refused:
        outcome = refused.outcome
    # Same order of refusals as the step-by-step path.
    if not outcome.bound:
        raise NotBoundToPatient(patient_id=patient_id)
    if outcome.has_no_shows:
        return None
    if outcome.slot_status is None or outcome.slot_start_at is None:
        raise errors.SlotNotFound(slot_id=slot_id)
    if outcome.slot_status != SlotStatus.open.value or outcome.slot_start_at <= now:
        raise errors.SlotUnavailable(slot_id=slot_id)
    if outcome.taken is not None:
        _mode(outcome.taken.modes, mode)  # raises invalid_mode for a mode the slot does not offer
        if settings.booking_max_per_doctor_per_day > 1:
            return None  # the next day seats are tried one by one
        raise errors.OneBookingPerDoctorPerDay(
            patient_id=patient_id,
            doctor_id=outcome.taken.doctor_id,
            limit=settings.booking_max_per_doctor_per_day,
        )
    if outcome.has_due:
        return None
    raise errors.SlotFull(slot_id=slot_id)


async def _hold(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    slot_id: int,
    patient_id: int,
    mode: str | None,
    idempotency_request: idempotency.IdempotentRequest | None,
    now: datetime,
) -> AppointmentOut:
    async with write_transaction(session):
        await idempotency.claim(session, idempotency_request, now=now)
        taken = await repository.take_place(session, slot_id, now=now)
        if taken is None and await repository.has_due_holds(session, now=now, slot_id=slot_id):
            # holds past their time still count until expired: expire this slot's now, then try again
            await _expire(session, settings, now=now, slot_id=slot_id)
            taken = await repository.take_place(session, slot_id, now=now)
        if taken is None:
            raise _NoPlace()
        chosen = _mode(taken.modes, mode)
        hold_until = now + timedelta(minutes=settings.booking_hold_minutes)
        appointment_id = await repository.insert_appointment(
            session,
            {
                "slot_id": slot_id,
                "patient_id": patient_id,
                "booked_by_user_id": principal.user_id,
                "doctor_id": taken.doctor_id,
                "hospital_id": taken.hospital_id,
                "local_date": taken.local_date,
                "mode": chosen,
                "status": AppointmentStatus.held.value,
                "hold_expires_at": hold_until,
                "is_extra": taken.booked > taken.capacity,
                "via_waitlist": False,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
            max_seats=settings.booking_max_per_doctor_per_day,
        )
        if appointment_id is None:
            raise errors.OneBookingPerDoctorPerDay(
                patient_id=patient_id,
                doctor_id=taken.doctor_id,
                limit=settings.booking_max_per_doctor_per_day,
            )
        await audit.record_now(
            session,
            principal,
            "appointment.hold",
            object_type="appointment",
            object_id=appointment_id,
            details={"slot_id": slot_id, "patient_id": patient_id, "is_extra": taken.booked > taken.capacity},
        )
        view = AppointmentOut(
            id=appointment_id,
            slot_id=slot_id,
            patient_id=patient_id,
            booked_by_user_id=principal.user_id,
            doctor_id=taken.doctor_id,
            hospital_id=taken.hospital_id,
            local_date=taken.local_date,
            mode=chosen,
            status=AppointmentStatus.held.value,
            hold_expires_at=hold_until,
            is_extra=taken.booked > taken.capacity,
            via_waitlist=False,
            confirmed_at=None,
            ended_at=None,
            cancel_reason=None,
        )
        await idempotency.settle(session, idempotency_request, status=201, body=view.model_dump(mode="json"))
    return view


async def _appointment_for_patient_action(
    session: AsyncSession, principal: Principal, appointment_id: int
) -> Appointment:
    require(policies.acts_as_patient(principal), action="appointment")
    appointment = await repository.get_appointment(session, appointment_id)
    if appointment is None:
        raise errors.AppointmentNotFound(appointment_id=appointment_id)
    actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    if appointment.patient_id not in actable:
        # not yours: answer as if it did not exist, so ids cannot be probed
        raise errors.AppointmentNotFound(appointment_id=appointment_id)
    return appointment


async def confirm(
    *,
    session: AsyncSession,
    principal: Principal,
    appointment_id: int,
    idempotency_request: idempotency.IdempotentRequest | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> AppointmentOut:
    """Turns the patient's hold into a confirmed booking while the hold lasts. A hold with a fee is
    confirmed by paying unless settings allow confirming without (a hospital that collects at the desk)."""
    appointment = await _appointment_for_patient_action(session, principal, appointment_id)
    if settings is not None and not settings.booking_confirm_without_payment:
        found = await repository.get_slot_with_shift(session, appointment.slot_id)
        if found is not None and found[1].fee_fen > 0:
            raise errors.PaymentRequired(appointment_id=appointment_id)
    now = now or utcnow()
    async with write_transaction(session):
        await idempotency.claim(session, idempotency_request, now=now)
        changed = await repository.change_appointment(
            session,
            appointment_id,
            from_statuses=[AppointmentStatus.held.value],
            values={
                "status": AppointmentStatus.confirmed.value,
                "confirmed_at": now,
                "hold_expires_at": None,
            },
            extra_where=[Appointment.hold_expires_at > now],
        )
        current = await repository.get_appointment(session, appointment_id)
        assert current is not None
        if changed is None:
            if current.status in (AppointmentStatus.held.value, AppointmentStatus.expired.value):
                raise errors.HoldExpired(appointment_id=appointment_id)
            if current.status != AppointmentStatus.confirmed.value:
                raise errors.InvalidAppointmentState(appointment_id=appointment_id, status=current.status)
        else:
            await audit.record(
                session,
                principal,
                "appointment.confirm",
                object_type="appointment",
                object_id=appointment_id,
                details={"patient_id": current.patient_id},
            )
        view = _appointment_view(current, now=now)
        await idempotency.settle(session, idempotency_request, status=200, body=view.model_dump(mode="json"))
    return view


@dataclass(frozen=True, slots=True)
class PayableAppointment:
    """What payment needs to charge for a booking: who, where, which mode, the roster's fee, the hold."""

    id: int
    patient_id: int
    hospital_id: int
    doctor_id: int
    department_code: str
    mode: str
    status: str
    hold_expires_at: datetime | None
    fee_fen: int


async def payable_appointment(session: AsyncSession, *, appointment_id: int) -> PayableAppointment | None:
    """For payment: the booking and its roster fee (reads only)."""
    appointment = await repository.get_appointment(session, appointment_id)
    if appointment is None:
        return None
    found = await repository.get_slot_with_shift(session, appointment.slot_id)
    slot, shift = found if found else (None, None)
    return PayableAppointment(
        id=appointment.id,
        patient_id=appointment.patient_id,
        hospital_id=appointment.hospital_id,
        doctor_id=appointment.doctor_id,
        department_code=slot.department_code if slot else "",
        mode=appointment.mode,
        status=appointment.status,
        hold_expires_at=appointment.hold_expires_at,
        fee_fen=shift.fee_fen if shift else 0,
    )


async def confirm_paid(
    session: AsyncSession, *, appointment_id: int, principal: Principal = SYSTEM, now: datetime | None = None
) -> bool:
    """Payment's call, inside its own transaction: the paid hold becomes a confirmed booking. False when
    the hold ended before the money arrived (payment then gives the money back)."""
    now = now or utcnow()
    changed = await repository.change_appointment(
        session,
        appointment_id,
        from_statuses=[AppointmentStatus.held.value],
        values={"status": AppointmentStatus.confirmed.value, "confirmed_at": now, "hold_expires_at": None},
        extra_where=[Appointment.hold_expires_at > now],
    )
    if changed is None:
        current = await repository.get_appointment(session, appointment_id)
        return current is not None and current.status == AppointmentStatus.confirmed.value
    await audit.record(
        session,
        principal,
        "appointment.confirm_paid",
        object_type="appointment",
        object_id=appointment_id,
    )
    return True


async def cancel(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    appointment_id: int,
    idempotency_request: idempotency.IdempotentRequest | None = None,
    now: datetime | None = None,
) -> AppointmentOut:
    """Cancels a held or confirmed booking before the cut-off; the place goes to the waitlist or back on sale."""
    appointment = await _appointment_for_patient_action(session, principal, appointment_id)
    now = now or utcnow()
    slot = await repository.get_slot(session, appointment.slot_id)
    assert slot is not None
    if appointment.status in ACTIVE_APPOINTMENT and not policies.may_cancel_at(
        now, slot.start_at, settings.booking_cancel_cutoff_minutes
    ):
        raise errors.CancelCutoffPassed(cutoff_minutes=settings.booking_cancel_cutoff_minutes)
    async with write_transaction(session):
        await idempotency.claim(session, idempotency_request, now=now)
        changed = await repository.change_appointment(
            session,
            appointment_id,
            from_statuses=[s.value for s in ACTIVE_APPOINTMENT],
            values={
                "status": AppointmentStatus.cancelled.value,
                "ended_at": now,
                "cancel_reason": CancelReason.patient.value,
                "hold_expires_at": None,
            },
        )
        if changed is None:
            current = await repository.get_appointment(session, appointment_id)
            assert current is not None
            raise errors.InvalidAppointmentState(appointment_id=appointment_id, status=current.status)
        await repository.release_places(session, changed.slot_id)
        await audit.record(
            session,
            principal,
            "appointment.cancel",
            object_type="appointment",
            object_id=appointment_id,
            details={"patient_id": changed.patient_id, "slot_id": changed.slot_id},
        )
        outbox.enqueue(session, TOPIC_APPOINTMENT_ENDED, {"appointment_id": appointment_id, "by": "patient"})
        await _offer_freed_places(session, settings, slot_id=changed.slot_id, now=now)
        current = await repository.get_appointment(session, appointment_id)
        assert current is not None
        view = _appointment_view(current, now=now)
        await idempotency.settle(session, idempotency_request, status=200, body=view.model_dump(mode="json"))
    return view


# ---- holds expiring and places offered to the waitlist ------------------------------------------------


async def _offer_freed_places(
    session: AsyncSession, settings: Settings, *, slot_id: int, now: datetime
) -> list[int]:
    """Gives free places of a slot to its waiting patients, first come first served, as holds."""
    offered: list[int] = []
    tried = 0
    while True:
        entry = await repository.next_waiting(session, slot_id, after_id=tried)
        if entry is None:
            return offered
        tried = entry.id
        taken = await repository.take_place(session, slot_id, now=now)
        if taken is None:
            return offered  # no place left (or the slot has started): the rest keep waiting
        hold_until = now + timedelta(minutes=settings.booking_waitlist_offer_minutes)
        appointment_id = await repository.insert_appointment(
            session,
            {
                "slot_id": slot_id,
                "patient_id": entry.patient_id,
                "booked_by_user_id": entry.user_id,
                "doctor_id": taken.doctor_id,
                "hospital_id": taken.hospital_id,
                "local_date": taken.local_date,
                "mode": entry.mode if entry.mode in taken.modes.split(",") else taken.modes.split(",")[0],
                "status": AppointmentStatus.held.value,
                "hold_expires_at": hold_until,
                "is_extra": taken.booked > taken.capacity,
                "via_waitlist": True,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
            max_seats=settings.booking_max_per_doctor_per_day,
        )
        if appointment_id is None:
            # already booked with this doctor that day: skip them, the place stays for the next
            await repository.release_places(session, slot_id)
            await repository.change_waitlist(
                session,
                entry.id,
                from_status=WaitlistStatus.waiting.value,
                values={"status": WaitlistStatus.skipped.value},
            )
            continue
        await repository.change_waitlist(
            session,
            entry.id,
            from_status=WaitlistStatus.waiting.value,
            values={"status": WaitlistStatus.offered.value, "appointment_id": appointment_id},
        )
        await audit.record(
            session,
            SYSTEM,
            "appointment.offer",
            object_type="appointment",
            object_id=appointment_id,
            details={"slot_id": slot_id, "patient_id": entry.patient_id, "waitlist_entry_id": entry.id},
        )
        if entry.user_id is not None:
            found = await repository.get_slot_with_shift(session, slot_id)
            assert found is not None
            slot, shift = found
            start_zh, start_en = _when(slot.start_at)
            limit_zh, limit_en = _when(hold_until)
            outbox.enqueue(
                session,
                TOPIC_OFFER,
                {
                    "user_id": entry.user_id,
                    "kind": NotificationKind.waitlist_offer.value,
                    "appointment_id": appointment_id,
                    "text_zh": f"候补成功：{shift.hospital_name} {shift.doctor_name} {start_zh} 的号源已为您保留，"
                    f"请在 {limit_zh} 前确认。",
                    "text_en": f"A place from the waitlist is held for you: {shift.doctor_name}, {start_en}. "
                    f"Confirm before {limit_en}.",
                    "data": {"slot_id": slot_id, "hold_expires_at": hold_until.isoformat()},
                },
            )
        offered.append(appointment_id)


async def _expire(
    session: AsyncSession, settings: Settings, *, now: datetime, slot_id: int | None = None, limit: int = 500
) -> int:
    """Expires due holds, gives their places back (to the waitlist first) and tells the patients."""
    rows = await repository.expire_due_holds(session, now=now, slot_id=slot_id, limit=limit)
    if not rows:
        return 0
    per_slot = Counter(row.slot_id for row in rows)
    for freed_slot, count in per_slot.items():
        await repository.release_places(session, freed_slot, count)
    for row in rows:
        await audit.record(
            session,
            SYSTEM,
            "appointment.expire",
            object_type="appointment",
            object_id=row.id,
            details={"slot_id": row.slot_id, "patient_id": row.patient_id, "via_waitlist": row.via_waitlist},
        )
        if row.booked_by_user_id is not None:
            outbox.enqueue(
                session,
                TOPIC_EXPIRED,
                {
                    "user_id": row.booked_by_user_id,
                    "kind": NotificationKind.hold_expired.value,
                    "appointment_id": row.id,
                    "text_zh": "您保留的号源未在时限内确认，已自动释放。",
                    "text_en": "Your held place was not confirmed in time and has been released.",
                    "data": {"slot_id": row.slot_id},
                },
            )
    for freed_slot in per_slot:
        await _offer_freed_places(session, settings, slot_id=freed_slot, now=now)
    return len(rows)


async def expire_holds(
    *, db: Database, settings: Settings, now: datetime | None = None, batch: int = 500
) -> int:
    """Expires every hold past its time (the timed job); returns how many."""
    total = 0
    while True:
        async with db.sessionmaker() as session, write_transaction(session):
            done = await _expire(session, settings, now=now or utcnow(), limit=batch)
        total += done
        if done < batch:
            return total


# ---- waitlist ----------------------------------------------------------------------------------------


async def join_waitlist(
    *,
    session: AsyncSession,
    principal: Principal,
    slot_id: int,
    patient_id: int,
    mode: str | None = None,
    idempotency_request: idempotency.IdempotentRequest | None = None,
    now: datetime | None = None,
) -> WaitlistOut:
    """Puts a patient on a full slot's waitlist; a freed place is offered to them as a hold, in order."""
    require(policies.acts_as_patient(principal), action="waitlist")
    await patients_service.require_may_act_for(session=session, principal=principal, patient_id=patient_id)
    now = now or utcnow()
    async with write_transaction(session):
        await idempotency.claim(session, idempotency_request, now=now)
        slot = await repository.get_slot(session, slot_id)
        if slot is None:
            raise errors.SlotNotFound(slot_id=slot_id)
        if slot.status != SlotStatus.open.value or slot.start_at <= now:
            raise errors.SlotUnavailable(slot_id=slot_id)
        if slot.booked < slot.capacity + slot.extra:
            raise errors.SlotHasPlaces(slot_id=slot_id, remaining=slot.capacity + slot.extra - slot.booked)
        entry_id = await repository.join_waitlist(
            session,
            {
                "slot_id": slot_id,
                "patient_id": patient_id,
                "user_id": principal.user_id,
                "mode": _mode(slot.modes, mode),
                "created_at": now,
                "updated_at": now,
            },
        )
        if entry_id is None:
            raise errors.AlreadyWaiting(slot_id=slot_id, patient_id=patient_id)
        await audit.record(
            session,
            principal,
            "waitlist.join",
            object_type="waitlist_entry",
            object_id=entry_id,
            details={"slot_id": slot_id, "patient_id": patient_id},
        )
        entry = await repository.get_waitlist_entry(session, entry_id)
        assert entry is not None
        view = await _waitlist_view(session, entry)
        await idempotency.settle(session, idempotency_request, status=201, body=view.model_dump(mode="json"))
    return view


async def _waitlist_view(session: AsyncSession, entry: WaitlistEntry) -> WaitlistOut:
    waiting = entry.status == WaitlistStatus.waiting.value
    return WaitlistOut(
        id=entry.id,
        slot_id=entry.slot_id,
        patient_id=entry.patient_id,
        status=entry.status,
        position=await repository.waitlist_position(session, entry) if waiting else None,
        appointment_id=entry.appointment_id,
        created_at=entry.created_at,
    )


async def leave_waitlist(*, session: AsyncSession, principal: Principal, entry_id: int) -> WaitlistOut:
    """Takes a patient off a waitlist."""
    require(policies.acts_as_patient(principal), action="waitlist")
    entry = await repository.get_waitlist_entry(session, entry_id)
    actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    if entry is None or entry.patient_id not in actable:
        raise errors.WaitlistEntryNotFound(entry_id=entry_id)
    async with write_transaction(session):
        left = await repository.change_waitlist(
            session,
            entry_id,
            from_status=WaitlistStatus.waiting.value,
            values={"status": WaitlistStatus.left.value},
        )
        current = await repository.get_waitlist_entry(session, entry_id)
        assert current is not None
        if not left:
            raise errors.InvalidAppointmentState(entry_id=entry_id, status=current.status)
        await audit.record(
            session,
            principal,
            "waitlist.leave",
            object_type="waitlist_entry",
            object_id=entry_id,
            details={"slot_id": current.slot_id, "patient_id": current.patient_id},
        )
        view = await _waitlist_view(session, current)
    return view


# ---- 加号 and no-shows ---------------------------------------------------------------------------------


async def grant_extra(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    slot_id: int,
    places: int,
    reason: str,
    idempotency_request: idempotency.IdempotentRequest | None = None,
    now: datetime | None = None,
) -> SlotOut:
    """Adds extra places (加号) to a slot, audited; waiting patients are offered them first."""
    require(policies.could_ever(principal, Action.grant_extra), action=Action.grant_extra.value)
    now = now or utcnow()
    slot = await repository.get_slot(session, slot_id)
    if slot is None:
        raise errors.SlotNotFound(slot_id=slot_id)
    own = await _own_doctor_id(session, principal)
    require(
        policies.may(principal, Action.grant_extra, _target_of(slot), own_doctor_id=own),
        action="grant_extra",
    )
    async with write_transaction(session):
        await idempotency.claim(session, idempotency_request, now=now)
        changed = await repository.add_extra(session, slot_id, places, now=now)
        if changed is None:
            raise errors.SlotUnavailable(slot_id=slot_id)
        await audit.record(
            session,
            principal,
            "slot.extra_grant",
            object_type="slot",
            object_id=slot_id,
            details={"places": places, "extra_total": changed.extra, "reason": reason},
        )
        await _offer_freed_places(session, settings, slot_id=slot_id, now=now)
        found = await repository.get_slot_with_shift(session, slot_id)
        assert found is not None
        view = _slot_view(*found)
        await idempotency.settle(session, idempotency_request, status=200, body=view.model_dump(mode="json"))
    return view


async def mark_no_show(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    appointment_id: int,
    now: datetime | None = None,
) -> NoShowOut:
    """Records that the patient did not come to a confirmed booking (by the doctor or an admin)."""
    require(policies.could_ever(principal, Action.mark_no_show), action=Action.mark_no_show.value)
    now = now or utcnow()
    appointment = await repository.get_appointment(session, appointment_id)
    if appointment is None:
        raise errors.AppointmentNotFound(appointment_id=appointment_id)
    slot = await repository.get_slot(session, appointment.slot_id)
    assert slot is not None
    own = await _own_doctor_id(session, principal)
    if not policies.may(principal, Action.mark_no_show, _target_of(slot), own_doctor_id=own):
        raise errors.AppointmentNotFound(appointment_id=appointment_id)
    if slot.start_at > now:
        raise errors.NoShowTooEarly(appointment_id=appointment_id)
    async with write_transaction(session):
        changed = await repository.change_appointment(
            session,
            appointment_id,
            from_statuses=[AppointmentStatus.confirmed.value],
            values={"status": AppointmentStatus.no_show.value, "ended_at": now},
        )
        if changed is None:
            current = await repository.get_appointment(session, appointment_id)
            assert current is not None
            raise errors.InvalidAppointmentState(appointment_id=appointment_id, status=current.status)
        await repository.add_no_show(
            session,
            {
                "patient_id": changed.patient_id,
                "appointment_id": appointment_id,
                "occurred_at": slot.start_at,
                "recorded_by_user_id": principal.user_id,
                "created_at": now,
            },
        )
        await audit.record(
            session,
            principal,
            "appointment.no_show",
            object_type="appointment",
            object_id=appointment_id,
            details={"patient_id": changed.patient_id},
        )
        since = now - timedelta(days=settings.booking_no_show_window_days + settings.booking_no_show_ban_days)
        times = await repository.no_show_times(session, changed.patient_id, since=since)
        in_window = [t for t in times if t > now - timedelta(days=settings.booking_no_show_window_days)]
        until = policies.ban_until(
            times,
            now=now,
            limit=settings.booking_no_show_limit,
            window_days=settings.booking_no_show_window_days,
            ban_days=settings.booking_no_show_ban_days,
        )
        view = NoShowOut(
            appointment_id=appointment_id,
            patient_id=changed.patient_id,
            no_shows_in_window=len(in_window),
            banned_until=until,
        )
    return view


# ---- cancelling shifts: leave and admin cancellation ---------------------------------------------------


async def _cancel_shifts(
    session: AsyncSession, *, shifts: list[Shift], reason: str, principal: Principal, now: datetime
) -> tuple[int, int]:
    """Cancels shifts with their slots and bookings, and tells each booked patient, offering alternatives."""
    by_id = {shift.id: shift for shift in shifts}
    cancelled = await repository.cancel_shifts(session, list(by_id), reason=reason)
    slot_ids = await repository.slot_ids_of_shifts(session, cancelled)
    rows = await repository.cancel_active_in_slots(
        session, slot_ids, now=now, reason=CancelReason.doctor_leave.value
    )
    await repository.cancel_waitlists(session, slot_ids)
    slots = await repository.slots_with_shifts(session, [row.slot_id for row in rows])
    for row in rows:
        slot, shift = slots[row.slot_id]
        await audit.record(
            session,
            principal,
            "appointment.cancel_by_hospital",
            object_type="appointment",
            object_id=row.id,
            details={"patient_id": row.patient_id, "slot_id": row.slot_id, "reason": reason},
        )
        if row.booked_by_user_id is None:
            continue
        options = await repository.alternatives(
            session,
            hospital_id=shift.hospital_id,
            department=shift.department_code,
            exclude_doctor_id=shift.doctor_id,
            after=max(now, slot.start_at - timedelta(hours=12)),
        )
        start_zh, start_en = _when(slot.start_at)
        choices_zh = "；".join(f"{s.doctor_name} {_when(o.start_at)[0]}" for o, s in options)
        choices_en = "; ".join(f"{s.doctor_name} {_when(o.start_at)[1]}" for o, s in options)
        outbox.enqueue(
            session,
            TOPIC_CANCELLED,
            {
                "user_id": row.booked_by_user_id,
                "kind": NotificationKind.cancelled_by_hospital.value,
                "appointment_id": row.id,
                "text_zh": f"{shift.hospital_name} {shift.doctor_name} {start_zh} 停诊，您的预约已取消。"
                + (f"可改约：{choices_zh}。" if options else "请另选时段。"),
                "text_en": f"{shift.doctor_name} is not available on {start_en}; your booking is cancelled. "
                + (f"Other slots: {choices_en}." if options else "Please choose another slot."),
                "data": {"slot_id": row.slot_id, "alternative_slot_ids": [o.id for o, _ in options]},
            },
        )
        outbox.enqueue(session, TOPIC_APPOINTMENT_ENDED, {"appointment_id": row.id, "by": "hospital"})
    return len(cancelled), len(rows)


async def record_leave(
    *, session: AsyncSession, principal: Principal, data: LeaveIn, now: datetime | None = None
) -> LeaveOut:
    """A doctor's leave (停诊): cancels their shifts in the period and tells the booked patients."""
    require(policies.could_ever(principal, Action.record_leave), action=Action.record_leave.value)
    now = now or utcnow()
    if data.to_date < data.from_date or (data.to_date - data.from_date).days >= MAX_LEAVE_DAYS:
        raise errors.InvalidDateRange(max_days=MAX_LEAVE_DAYS)
    own = await _own_doctor_id(session, principal)
    target = Target(hospital_id=data.hospital_id, doctor_id=data.doctor_id)
    require(policies.may(principal, Action.record_leave, target, own_doctor_id=own), action="record_leave")
    async with write_transaction(session):
        found = await repository.shifts(
            session,
            hospital_ids=[data.hospital_id] if data.hospital_id else None,
            doctor_id=data.doctor_id,
            from_date=data.from_date,
            to_date=data.to_date,
            scheduled_only=True,
        )
        found = [shift for shift in found if shift.end_at > now]
        reason = data.reason or "doctor_leave"
        shifts_cancelled, appointments_cancelled = await _cancel_shifts(
            session, shifts=found, reason=reason, principal=principal, now=now
        )
        leave = await repository.add_leave(
            session,
            {
                "doctor_id": data.doctor_id,
                "hospital_id": data.hospital_id,
                "from_date": data.from_date,
                "to_date": data.to_date,
                "reason": data.reason,
                "shifts_cancelled": shifts_cancelled,
                "appointments_cancelled": appointments_cancelled,
                "recorded_by_user_id": principal.user_id,
                "created_at": now,
            },
        )
        await audit.record(
            session,
            principal,
            "doctor.leave",
            object_type="doctor",
            object_id=data.doctor_id,
            details={
                "from": data.from_date.isoformat(),
                "to": data.to_date.isoformat(),
                "shifts_cancelled": shifts_cancelled,
                "appointments_cancelled": appointments_cancelled,
            },
        )
        view = LeaveOut(
            id=leave.id,
            doctor_id=data.doctor_id,
            from_date=data.from_date,
            to_date=data.to_date,
            shifts_cancelled=shifts_cancelled,
            appointments_cancelled=appointments_cancelled,
        )
    return view


async def cancel_shift(
    *,
    session: AsyncSession,
    principal: Principal,
    shift_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> ShiftOut:
    """An admin cancels one shift of their hospital; booked patients are told and offered alternatives."""
    require(policies.could_ever(principal, Action.manage_roster), action=Action.manage_roster.value)
    now = now or utcnow()
    shift = await repository.get_shift(session, shift_id)
    if shift is None or not policies.may(principal, Action.read_roster, _target_of(shift)):
        raise errors.ShiftNotFound(shift_id=shift_id)
    require(policies.may(principal, Action.manage_roster, _target_of(shift)), action="manage_roster")
    async with write_transaction(session):
        shift = await repository.get_shift(session, shift_id)
        assert shift is not None
        await _cancel_shifts(
            session, shifts=[shift], reason=reason or "shift_cancelled", principal=principal, now=now
        )
        await audit.record(
            session,
            principal,
            "shift.cancel",
            object_type="shift",
            object_id=shift_id,
            details={"reason": reason},
        )
        current = await repository.get_shift(session, shift_id)
        assert current is not None
        view = _shift_view(current, await repository.slots_of_shifts(session, [shift_id]))
    return view


# ---- rosters -----------------------------------------------------------------------------------------


async def _roster_facts(
    session: AsyncSession, principal: Principal, *, hospital_id: int, department: str, doctor_id: int
) -> tuple[HospitalOut, str, Any]:
    """Checks the admin may run this hospital's roster, the department is offered and the doctor eligible there."""
    require(policies.could_ever(principal, Action.manage_roster), action=Action.manage_roster.value)
    hospital = await registry_service.get_hospital(
        session=session, principal=principal, hospital_id=hospital_id
    )
    target = Target(hospital_id=hospital.id, region_adcode=hospital.region_adcode)
    require(policies.may(principal, Action.manage_roster, target), action=Action.manage_roster.value)
    code = department_code(department)
    assert code is not None
    doctor = await registry_service.require_may_consult_online(session=session, doctor_id=doctor_id)
    if not any(site.hospital_id == hospital.id and site.department_code == code for site in doctor.sites):
        raise errors.DoctorNotAtDepartment(doctor_id=doctor_id, hospital_id=hospital_id, department_code=code)
    return hospital, code, doctor


def _modes_or_raise(values: list[str]) -> str:
    modes = policies.parse_modes(values)
    if modes is None:
        raise errors.InvalidMode(value=values)
    return policies.modes_text(modes)


async def create_template(*, session: AsyncSession, principal: Principal, data: TemplateIn) -> TemplateOut:
    """Adds a weekly roster line for a doctor in a department of the admin's hospital."""
    modes = _modes_or_raise(data.modes)
    hospital, code, _ = await _roster_facts(
        session,
        principal,
        hospital_id=data.hospital_id,
        department=data.department_code,
        doctor_id=data.doctor_id,
    )
    start_at, end_at = policies.shift_window(registry_service.today(), data.start_time, data.end_time)
    if policies.window_problem(start_at, end_at, data.slot_minutes):
        raise errors.InvalidTimeWindow()
    valid_from = data.valid_from or registry_service.today()
    if data.valid_to is not None and data.valid_to < valid_from:
        raise errors.InvalidDateRange(max_days=3650)
    async with write_transaction(session):
        template = await repository.add_template(
            session,
            {
                "hospital_id": hospital.id,
                "department_code": code,
                "doctor_id": data.doctor_id,
                "weekday": data.weekday,
                "start_time": data.start_time,
                "end_time": data.end_time,
                "modes": modes,
                "slot_minutes": data.slot_minutes,
                "capacity_per_slot": data.capacity_per_slot,
                "fee_fen": data.fee_fen,
                "valid_from": valid_from,
                "valid_to": data.valid_to,
                "active": True,
                "created_by_user_id": principal.user_id,
            },
        )
        await audit.record(
            session,
            principal,
            "roster_template.create",
            object_type="roster_template",
            object_id=template.id,
            details={"hospital_id": hospital.id, "doctor_id": data.doctor_id, "weekday": data.weekday},
        )
        view = _template_view(template)
    return view


async def list_templates(
    *, session: AsyncSession, principal: Principal, hospital_id: int
) -> list[TemplateOut]:
    """A hospital's active weekly roster."""
    await _require_roster_reader(session, principal, hospital_id)
    return [_template_view(t) for t in await repository.templates_of(session, hospital_id=hospital_id)]


async def _require_roster_reader(
    session: AsyncSession, principal: Principal, hospital_id: int
) -> HospitalOut:
    require(policies.could_ever(principal, Action.read_roster), action=Action.read_roster.value)
    hospital = await registry_service.get_hospital(
        session=session, principal=principal, hospital_id=hospital_id
    )
    target = Target(hospital_id=hospital.id, region_adcode=hospital.region_adcode)
    require(policies.may(principal, Action.read_roster, target), action=Action.read_roster.value)
    return hospital


async def deactivate_template(
    *, session: AsyncSession, principal: Principal, template_id: int
) -> TemplateOut:
    """Stops a weekly roster line making new shifts (shifts already made stay)."""
    require(policies.could_ever(principal, Action.manage_roster), action=Action.manage_roster.value)
    template = await repository.get_template(session, template_id)
    if template is None:
        raise errors.TemplateNotFound(template_id=template_id)
    hospital = await registry_service.get_hospital(
        session=session, principal=principal, hospital_id=template.hospital_id
    )
    target = Target(hospital_id=hospital.id, region_adcode=hospital.region_adcode)
    if not policies.may(principal, Action.manage_roster, target):
        raise errors.TemplateNotFound(template_id=template_id)
    async with write_transaction(session):
        template = await repository.get_template(session, template_id)
        assert template is not None
        template.active = False
        await audit.record(
            session,
            principal,
            "roster_template.deactivate",
            object_type="roster_template",
            object_id=template_id,
        )
        view = _template_view(template)
    return view


def _slot_rows(shift_id: int, values: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "shift_id": shift_id,
            "hospital_id": values["hospital_id"],
            "city_adcode": values["city_adcode"],
            "department_code": values["department_code"],
            "doctor_id": values["doctor_id"],
            "local_date": policies.local_day(start),
            "start_at": start,
            "end_at": end,
            "modes": values["modes"],
            "capacity": values["capacity_per_slot"],
            "extra": 0,
            "booked": 0,
            "status": SlotStatus.open.value,
            "version": 1,
        }
        for start, end in policies.slot_windows(values["start_at"], values["end_at"], values["slot_minutes"])
    ]


async def _insert_shift_with_slots(session: AsyncSession, values: dict[str, Any]) -> tuple[int | None, int]:
    now = utcnow()
    shift_id = await repository.insert_shift(session, {**values, "created_at": now, "updated_at": now})
    if shift_id is None:
        return None, 0
    rows = _slot_rows(shift_id, values)
    await repository.insert_slots(session, rows)
    return shift_id, len(rows)


async def create_shift(
    *, session: AsyncSession, principal: Principal, data: ShiftIn, now: datetime | None = None
) -> ShiftOut:
    """Puts a doctor on duty for a department on one day, with its slots (outside any weekly template)."""
    now = now or utcnow()
    modes = _modes_or_raise(data.modes)
    hospital, code, doctor = await _roster_facts(
        session,
        principal,
        hospital_id=data.hospital_id,
        department=data.department_code,
        doctor_id=data.doctor_id,
    )
    start_at, end_at = policies.shift_window(data.local_date, data.start_time, data.end_time)
    if policies.window_problem(start_at, end_at, data.slot_minutes):
        raise errors.InvalidTimeWindow()
    if start_at <= now:
        raise errors.ShiftInPast()
    values = {
        "template_id": None,
        "hospital_id": hospital.id,
        "city_adcode": hospital.city_adcode,
        "hospital_name": hospital.name,
        "department_code": code,
        "doctor_id": doctor.id,
        "doctor_name": doctor.real_name,
        "doctor_title": doctor.title,
        "local_date": data.local_date,
        "start_at": start_at,
        "end_at": end_at,
        "modes": modes,
        "slot_minutes": data.slot_minutes,
        "capacity_per_slot": data.capacity_per_slot,
        "fee_fen": data.fee_fen,
    }
    async with write_transaction(session):
        shift_id, slots = await _insert_shift_with_slots(session, values)
        assert shift_id is not None
        await audit.record(
            session,
            principal,
            "shift.create",
            object_type="shift",
            object_id=shift_id,
            details={
                "hospital_id": hospital.id,
                "doctor_id": doctor.id,
                "date": data.local_date.isoformat(),
                "slots": slots,
            },
        )
        shift = await repository.get_shift(session, shift_id)
        assert shift is not None
        view = _shift_view(shift, await repository.slots_of_shifts(session, [shift_id]))
    return view


async def materialise(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    hospital_id: int | None = None,
    days: int | None = None,
    today: date | None = None,
) -> MaterialiseOut:
    """Turns active weekly templates into shifts and slots for the next N days (reruns add nothing)."""
    if hospital_id is not None:
        hospital = await registry_service.get_hospital(
            session=session, principal=principal, hospital_id=hospital_id
        )
        target = Target(hospital_id=hospital.id, region_adcode=hospital.region_adcode)
        require(policies.may(principal, Action.manage_roster, target), action=Action.manage_roster.value)
    else:
        require(principal.has_role(Role.platform_admin), action=Action.manage_roster.value)
    first = today or registry_service.today()
    last = first + timedelta(days=(days or settings.booking_materialise_days) - 1)
    now = utcnow()
    templates = await repository.templates_of(session, hospital_id=hospital_id)
    hospitals: dict[int, HospitalOut | None] = {}
    doctors: dict[int, Any] = {}
    plans: list[dict[str, Any]] = []
    for template in templates:
        if template.hospital_id not in hospitals:
            try:
                hospitals[template.hospital_id] = await registry_service.get_hospital(
                    session=session, principal=registry_service.SYSTEM, hospital_id=template.hospital_id
                )
            except DomainError:  # a hospital gone from the registry makes no shifts
                hospitals[template.hospital_id] = None
        place = hospitals[template.hospital_id]
        if place is None or not place.listed:
            continue
        if template.doctor_id not in doctors:
            try:
                doctors[template.doctor_id] = await registry_service.require_may_consult_online(
                    session=session, doctor_id=template.doctor_id, on=first
                )
            except DomainError:  # an ineligible doctor gets no new shifts
                doctors[template.doctor_id] = None
        doctor = doctors[template.doctor_id]
        if doctor is None:
            continue
        for day in policies.template_days(
            template.weekday, first, last, template.valid_from, template.valid_to
        ):
            start_at, end_at = policies.shift_window(day, template.start_time, template.end_time)
            if end_at <= now:
                continue
            plans.append(
                {
                    "template_id": template.id,
                    "hospital_id": place.id,
                    "city_adcode": place.city_adcode,
                    "hospital_name": place.name,
                    "department_code": template.department_code,
                    "doctor_id": doctor.id,
                    "doctor_name": doctor.real_name,
                    "doctor_title": doctor.title,
                    "local_date": day,
                    "start_at": start_at,
                    "end_at": end_at,
                    "modes": template.modes,
                    "slot_minutes": template.slot_minutes,
                    "capacity_per_slot": template.capacity_per_slot,
                    "fee_fen": template.fee_fen,
                }
            )
    shifts_created = slots_created = 0
    async with write_transaction(session):
        for values in plans:
            shift_id, slots = await _insert_shift_with_slots(session, values)
            if shift_id is not None:
                shifts_created += 1
                slots_created += slots
        if shifts_created:
            await audit.record(
                session,
                principal,
                "roster.materialise",
                object_type="hospital",
                object_id=hospital_id,
                details={"from": first.isoformat(), "to": last.isoformat(), "shifts": shifts_created},
            )
    return MaterialiseOut(shifts_created=shifts_created, slots_created=slots_created)


async def materialise_all(db: Database, settings: Settings) -> None:
    """The timed job: every hospital's templates, N days ahead."""
    async with db.sessionmaker() as session:
        result = await materialise(session=session, settings=settings, principal=SYSTEM)
    if result.shifts_created:
        log.info("materialised %d shifts, %d slots", result.shifts_created, result.slots_created)


async def expire_job(db: Database, settings: Settings) -> None:
    """The timed job: expire holds past their time."""
    await expire_holds(db=db, settings=settings)


async def list_shifts(
    *, session: AsyncSession, principal: Principal, hospital_id: int, from_date: date, to_date: date
) -> list[ShiftOut]:
    """A hospital's shifts with their slots and places, for the roster editor."""
    if to_date < from_date or (to_date - from_date).days >= MAX_COVERAGE_DAYS:
        raise errors.InvalidDateRange(max_days=MAX_COVERAGE_DAYS)
    await _require_roster_reader(session, principal, hospital_id)
    shifts = await repository.shifts(
        session, hospital_ids=[hospital_id], from_date=from_date, to_date=to_date
    )
    slots = await repository.slots_of_shifts(session, [shift.id for shift in shifts])
    by_shift: dict[int, list[Slot]] = {}
    for slot in slots:
        by_shift.setdefault(slot.shift_id, []).append(slot)
    return [_shift_view(shift, by_shift.get(shift.id, [])) for shift in shifts]


async def doctor_schedule(
    *,
    session: AsyncSession,
    principal: Principal,
    from_date: date,
    to_date: date,
    now: datetime | None = None,
) -> tuple[list[ShiftOut], list[AppointmentOut]]:
    """The signed-in doctor's own shifts and the bookings in them (audited: bookings name patients)."""
    if to_date < from_date or (to_date - from_date).days >= MAX_COVERAGE_DAYS:
        raise errors.InvalidDateRange(max_days=MAX_COVERAGE_DAYS)
    own = await _own_doctor_id(session, principal)
    if own is None:
        raise errors.NotYourDoctorRecord()
    now = now or utcnow()
    async with transaction(session):
        shifts = await repository.shifts(session, doctor_id=own, from_date=from_date, to_date=to_date)
        slots = await repository.slots_of_shifts(session, [shift.id for shift in shifts])
        by_shift: dict[int, list[Slot]] = {}
        for slot in slots:
            by_shift.setdefault(slot.shift_id, []).append(slot)
        shift_by_id = {shift.id: shift for shift in shifts}
        slot_views = {slot.id: _slot_view(slot, shift_by_id[slot.shift_id]) for slot in slots}
        appointments = await repository.appointments_in_slots(session, [slot.id for slot in slots])
        if appointments:
            await audit.record(
                session,
                principal,
                "appointment.list_for_doctor",
                object_type="doctor",
                object_id=own,
                details={"appointment_ids": [a.id for a in appointments]},
            )
        views = [_appointment_view(a, now=now, slot=slot_views.get(a.slot_id)) for a in appointments]
    return [_shift_view(shift, by_shift.get(shift.id, [])) for shift in shifts], views


# ---- the patient's own view ------------------------------------------------------------------------------


async def my_appointments(
    *, session: AsyncSession, principal: Principal, now: datetime | None = None
) -> list[AppointmentOut]:
    """Bookings of every patient the principal may act for, newest first (audited)."""
    require(policies.acts_as_patient(principal), action="appointment")
    now = now or utcnow()
    actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    async with transaction(session):
        appointments = await repository.appointments_of_patients(session, actable)
        slots = await repository.slots_with_shifts(session, [a.slot_id for a in appointments])
        if appointments:
            await audit.record(
                session,
                principal,
                "appointment.list",
                object_type="appointment",
                object_id=None,
                details={"appointment_ids": [a.id for a in appointments]},
            )
        views = [
            _appointment_view(a, now=now, slot=_slot_view(*slots[a.slot_id]) if a.slot_id in slots else None)
            for a in appointments
        ]
    return views


async def get_appointment(
    *, session: AsyncSession, principal: Principal, appointment_id: int, now: datetime | None = None
) -> AppointmentOut:
    """One booking, for the patient's binders, its doctor and the hospital's admins (audited)."""
    now = now or utcnow()
    appointment = await repository.get_appointment(session, appointment_id)
    if appointment is None:
        raise errors.AppointmentNotFound(appointment_id=appointment_id)
    found = await repository.get_slot_with_shift(session, appointment.slot_id)
    assert found is not None
    allowed = False
    if policies.acts_as_patient(principal):
        allowed = appointment.patient_id in await patients_service.actable_patient_ids(
            session=session, principal=principal
        )
    if not allowed:
        own = await _own_doctor_id(session, principal)
        allowed = policies.may(principal, Action.read_schedule, _target_of(found[0]), own_doctor_id=own)
    if not allowed:
        raise errors.AppointmentNotFound(appointment_id=appointment_id)
    async with transaction(session):
        await audit.record(
            session,
            principal,
            "appointment.read",
            object_type="appointment",
            object_id=appointment_id,
            details={"patient_id": appointment.patient_id},
        )
    return _appointment_view(appointment, now=now, slot=_slot_view(*found))


async def my_waitlist(*, session: AsyncSession, principal: Principal) -> list[WaitlistOut]:
    """The waitlist places of every patient the principal may act for."""
    require(policies.acts_as_patient(principal), action="waitlist")
    actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    return [
        await _waitlist_view(session, entry)
        for entry in await repository.waitlist_of_patients(session, actable)
    ]


async def notifications(*, session: AsyncSession, principal: Principal) -> list[NotificationOut]:
    """The principal's booking messages (站内信), newest first."""
    if principal.user_id is None:
        raise Forbidden(action="notifications")
    rows = await repository.notifications_of(session, principal.user_id)
    return [
        NotificationOut(
            id=row.id,
            kind=row.kind,
            appointment_id=row.appointment_id,
            text_zh=row.text_zh,
            text_en=row.text_en,
            data=row.data,
            created_at=row.created_at,
            read_at=row.read_at,
        )
        for row in rows
    ]


async def mark_notifications_read(*, session: AsyncSession, principal: Principal) -> None:
    """Marks all of the principal's booking messages read."""
    if principal.user_id is None:
        raise Forbidden(action="notifications")
    async with write_transaction(session):
        await repository.mark_notifications_read(session, principal.user_id, now=utcnow())


async def store_notification(*, db: Database, message: outbox.Message) -> bool:
    """The outbox handler's write: one 站内信 per message, however often the message is delivered."""
    payload = message.payload
    async with db.sessionmaker() as session, write_transaction(session):
        return await repository.add_notification(
            session,
            {
                "user_id": int(payload["user_id"]),
                "kind": str(payload["kind"]),
                "appointment_id": payload.get("appointment_id"),
                "text_zh": str(payload["text_zh"]),
                "text_en": str(payload["text_en"]),
                "data": payload.get("data") or {},
                "outbox_message_id": message.id,
                "created_at": utcnow(),
            },
        )


# ---- coverage ----------------------------------------------------------------------------------------


async def _listed_hospitals(session: AsyncSession, principal: Principal) -> list[HospitalOut]:
    hospitals: list[HospitalOut] = []
    page = 1
    while True:
        found = await registry_service.search_hospitals(
            session=session, principal=principal, page=page, page_size=registry_service.MAX_PAGE_SIZE
        )
        hospitals.extend(found.items)
        if page * found.page_size >= found.total or not found.items:
            return hospitals
        page += 1


async def coverage(
    *,
    session: AsyncSession,
    principal: Principal,
    days: int = 14,
    hospital_id: int | None = None,
    from_date: date | None = None,
) -> CoverageOut:
    """Gaps where a department of a listed hospital has no doctor online (24-hour ones: any hour)."""
    require(policies.could_ever(principal, Action.read_coverage), action=Action.read_coverage.value)
    if not 1 <= days <= MAX_COVERAGE_DAYS:
        raise errors.InvalidDateRange(max_days=MAX_COVERAGE_DAYS)
    first = from_date or registry_service.today()
    last = first + timedelta(days=days - 1)
    if hospital_id is not None:
        hospitals = [
            await registry_service.get_hospital(session=session, principal=principal, hospital_id=hospital_id)
        ]
    else:
        hospitals = await _listed_hospitals(session, principal)
    hospitals = [
        h
        for h in hospitals
        if h.listed
        and policies.may(
            principal, Action.read_coverage, Target(hospital_id=h.id, region_adcode=h.region_adcode)
        )
    ]
    if hospital_id is not None and not hospitals:
        require(False, action=Action.read_coverage.value)
    rows = await repository.windows_for_coverage(
        session, hospital_ids=[h.id for h in hospitals], from_date=first, to_date=last
    )
    windows: dict[tuple[int, str], list[tuple[datetime, datetime]]] = {}
    for row in rows:
        windows.setdefault((row.hospital_id, row.department_code), []).append((row.start_at, row.end_at))
    gaps: list[GapOut] = []
    department_count = 0
    for hospital in hospitals:
        for department in hospital.departments:
            department_count += 1
            found = windows.get((hospital.id, department.code), [])
            for offset in range(days):
                day = first + timedelta(days=offset)
                for gap in policies.coverage_gaps(day, found, around_the_clock=department.around_the_clock):
                    gaps.append(
                        GapOut(
                            hospital_id=hospital.id,
                            hospital_name=hospital.name,
                            department_code=department.code,
                            department_name_zh=department.name_zh,
                            department_name_en=department.name_en,
                            around_the_clock=department.around_the_clock,
                            date=day,
                            start_local=gap.start,
                            end_local=gap.end,
                        )
                    )
    return CoverageOut(
        from_date=first, days=days, hospitals=len(hospitals), departments=department_count, gaps=gaps
    )
