"""HTML pages of booking: /booking (patients), /booking/doctor (a doctor's day), /booking/admin (rosters, gaps).

Thin: every POST is a CSRF-checked form that calls the service and redirects back with a notice
or the refusal's stable code, which the page shows in the reader's language.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from regio.care.booking import errors, service
from regio.care.booking.schemas import SlotOut, TemplateIn
from regio.care.patients import service as patients_service
from regio.core import idempotency
from regio.core.access import Role, ScopeKind
from regio.core.deps import MAX_ID, CurrentPrincipal, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError, Forbidden
from regio.core.identity.csrf import CsrfForm
from regio.core.templating import render

router = APIRouter(tags=["booking pages"], include_in_schema=False)

FormId = Annotated[int, Form(ge=1, le=MAX_ID)]
FormText = Annotated[str, Form(max_length=200)]
WEEKDAYS = [
    ("周一", "Mon"),
    ("周二", "Tue"),
    ("周三", "Wed"),
    ("周四", "Thu"),
    ("周五", "Fri"),
    ("周六", "Sat"),
    ("周日", "Sun"),
]
STATUS_LABELS = {
    "held": ("待确认", "Held"),
    "confirmed": ("已确认", "Confirmed"),
    "cancelled": ("已取消", "Cancelled"),
    "expired": ("已过期", "Expired"),
    "no_show": ("爽约", "No-show"),
}
NOTICES = {
    "booked": ("已为您保留号源，请在时限内确认。", "The place is held for you; please confirm in time."),
    "confirmed": ("预约已确认。", "Booking confirmed."),
    "cancelled": ("预约已取消，号源已释放。", "Booking cancelled; the place is released."),
    "waiting": (
        "已加入候补，有号源释放时将自动为您保留。",
        "You are on the waitlist; a freed place will be held for you.",
    ),
    "left": ("已退出候补。", "You left the waitlist."),
    "template": ("排班模板已添加。", "Roster line added."),
    "materialised": ("已生成排班与号源。", "Shifts and slots generated."),
}


def _known_errors() -> dict[str, type[DomainError]]:
    found: dict[str, type[DomainError]] = {}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, DomainError):
            found[value.code] = value
    found[idempotency.IdempotencyKeyReused.code] = idempotency.IdempotencyKeyReused
    return found


def _error_message(code: str) -> tuple[str, str] | None:
    error = _known_errors().get(code)
    if error is None:
        return None
    # messages with placeholders read fine without details: keep only the sentence's frame
    return error.message_zh.split("{")[0].rstrip("，, ") or error.message_zh, error.message_en.split("{")[
        0
    ].rstrip(", ")


def _back(path: str, *, notice: str = "", error: DomainError | None = None) -> Response:
    query = f"?notice={notice}" if notice else ""
    if error is not None:
        query = f"?error={error.code}"
    return RedirectResponse(path + query, status_code=303)


def _days(count: int = 7) -> list[date]:
    today = service.registry_service.today()
    return [today + timedelta(days=offset) for offset in range(count)]


@router.get("/booking")
async def booking_home(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    department: Annotated[str, Query(max_length=40)] = "",
    day: Annotated[date | None, Query()] = None,
    doctor_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    notice: Annotated[str, Query(max_length=40)] = "",
    error: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    days = _days()
    chosen_day = day if day in days else days[0]
    departments = list(service.departments().values())
    code = department if department in service.departments() else ""
    slots: list[SlotOut] = []
    if code:
        slots = await service.search_slots(
            session=session,
            principal=principal,
            department=code,
            day=chosen_day,
            doctor_id=doctor_id,
            limit=200,
        )
    doctors = sorted({(s.doctor_id, s.doctor_name, s.doctor_title, s.hospital_name) for s in slots})
    patients: list[Any] = []
    appointments: list[Any] = []
    waitlist: list[Any] = []
    is_patient = service.policies.acts_as_patient(principal)
    if is_patient:
        try:
            patients = await patients_service.list_patients(
                session=session, settings=settings, principal=principal
            )
            appointments = await service.my_appointments(session=session, principal=principal)
            waitlist = await service.my_waitlist(session=session, principal=principal)
        except Forbidden:
            is_patient = False
    notes = await service.notifications(session=session, principal=principal) if principal.user_id else []
    names = {item.patient.id: item.patient.name for item in patients}
    context = {
        "confirm_without_payment": settings.booking_confirm_without_payment,
        "days": days,
        "chosen_day": chosen_day,
        "departments": departments,
        "department": code,
        "doctor_id": doctor_id,
        "doctors": doctors,
        "slots": slots,
        "suggested": service.suggest_least_crowded(slots),
        "patients": patients,
        "patient_names": names,
        "appointments": appointments,
        "waitlist": waitlist,
        "notifications": notes[:10],
        "is_patient": is_patient,
        "shanghai": service.policies.SHANGHAI,
        "weekdays": WEEKDAYS,
        "status_labels": STATUS_LABELS,
        "notice": NOTICES.get(notice),
        "error": _error_message(error) if error else None,
    }
    return render(request, "booking/index.html", context)


@router.post("/booking/book", dependencies=[CsrfForm])
async def book_slot(
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    slot_id: FormId,
    patient_id: FormId,
) -> Response:
    try:
        await service.book(
            session=session, settings=settings, principal=principal, slot_id=slot_id, patient_id=patient_id
        )
    except DomainError as refusal:
        return _back("/booking", error=refusal)
    return _back("/booking", notice="booked")


@router.post("/booking/appointments/{appointment_id}/confirm", dependencies=[CsrfForm])
async def confirm_booking(
    appointment_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> Response:
    try:
        await service.confirm(
            session=session, principal=principal, appointment_id=appointment_id, settings=settings
        )
    except DomainError as refusal:
        return _back("/booking", error=refusal)
    return _back("/booking", notice="confirmed")


@router.post("/booking/appointments/{appointment_id}/cancel", dependencies=[CsrfForm])
async def cancel_booking(
    appointment_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> Response:
    try:
        await service.cancel(
            session=session, settings=settings, principal=principal, appointment_id=appointment_id
        )
    except DomainError as refusal:
        return _back("/booking", error=refusal)
    return _back("/booking", notice="cancelled")


@router.post("/booking/waitlist", dependencies=[CsrfForm])
async def join_waitlist(
    session: SessionDep, principal: CurrentPrincipal, slot_id: FormId, patient_id: FormId
) -> Response:
    try:
        await service.join_waitlist(
            session=session, principal=principal, slot_id=slot_id, patient_id=patient_id
        )
    except DomainError as refusal:
        return _back("/booking", error=refusal)
    return _back("/booking", notice="waiting")


@router.post("/booking/waitlist/{entry_id}/leave", dependencies=[CsrfForm])
async def leave_waitlist(entry_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    try:
        await service.leave_waitlist(session=session, principal=principal, entry_id=entry_id)
    except DomainError as refusal:
        return _back("/booking", error=refusal)
    return _back("/booking", notice="left")


@router.get("/booking/doctor")
async def doctor_page(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    days = _days()
    shifts, appointments = await service.doctor_schedule(
        session=session, principal=principal, from_date=days[0], to_date=days[-1]
    )
    by_slot: dict[int, list[Any]] = {}
    for appointment in appointments:
        by_slot.setdefault(appointment.slot_id, []).append(appointment)
    context = {"shifts": shifts, "by_slot": by_slot, "status_labels": STATUS_LABELS}
    return render(request, "booking/doctor.html", context)


@router.get("/booking/admin")
async def admin_page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    hospital_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    notice: Annotated[str, Query(max_length=40)] = "",
    error: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    own = sorted(
        int(scope)
        for scope in principal.scope_ids(Role.hospital_admin, ScopeKind.hospital)
        if scope.isdigit()
    )
    chosen = hospital_id or (own[0] if own else None)
    if chosen is None:
        raise Forbidden(action="read_roster")
    days = _days()
    templates = await service.list_templates(session=session, principal=principal, hospital_id=chosen)
    shifts = await service.list_shifts(
        session=session, principal=principal, hospital_id=chosen, from_date=days[0], to_date=days[-1]
    )
    gaps = await service.coverage(session=session, principal=principal, days=7, hospital_id=chosen)
    hospital = await service.registry_service.get_hospital(
        session=session, principal=principal, hospital_id=chosen
    )
    doctors = await service.registry_service.hospital_doctors(
        session=session, principal=principal, hospital_id=chosen
    )
    context = {
        "hospital": hospital,
        "templates": templates,
        "shifts": shifts,
        "gaps": gaps,
        "doctors": doctors,
        "weekdays": WEEKDAYS,
        "notice": NOTICES.get(notice),
        "error": _error_message(error) if error else None,
    }
    return render(request, "booking/admin.html", context)


@router.post("/booking/admin/{hospital_id}/templates", dependencies=[CsrfForm])
async def add_template(
    hospital_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    doctor_site: FormText,
    weekday: Annotated[int, Form(ge=0, le=6)],
    start_time: Annotated[time, Form()],
    end_time: Annotated[time, Form()],
    slot_minutes: Annotated[int, Form(ge=5, le=240)] = 30,
    capacity_per_slot: Annotated[int, Form(ge=1, le=1000)] = 2,
    fee_fen: Annotated[int, Form(ge=0, le=10_000_000)] = 0,
    modes: Annotated[list[str] | None, Form(max_length=3)] = None,
) -> Response:
    back = f"/booking/admin?hospital_id={hospital_id}"
    doctor, _, department = doctor_site.partition(":")
    try:
        if not doctor.isdigit() or not department:
            raise errors.DoctorNotAtDepartment()
        await service.create_template(
            session=session,
            principal=principal,
            data=TemplateIn(
                hospital_id=hospital_id,
                department_code=department,
                doctor_id=int(doctor),
                weekday=weekday,
                start_time=start_time,
                end_time=end_time,
                modes=modes or ["text"],
                slot_minutes=slot_minutes,
                capacity_per_slot=capacity_per_slot,
                fee_fen=fee_fen,
            ),
        )
    except DomainError as refusal:
        return RedirectResponse(f"{back}&error={refusal.code}", status_code=303)
    return RedirectResponse(f"{back}&notice=template", status_code=303)


@router.post("/booking/admin/{hospital_id}/materialise", dependencies=[CsrfForm])
async def materialise(
    hospital_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> Response:
    back = f"/booking/admin?hospital_id={hospital_id}"
    try:
        await service.materialise(
            session=session, settings=settings, principal=principal, hospital_id=hospital_id
        )
    except DomainError as refusal:
        return RedirectResponse(f"{back}&error={refusal.code}", status_code=303)
    return RedirectResponse(f"{back}&notice=materialised", status_code=303)
