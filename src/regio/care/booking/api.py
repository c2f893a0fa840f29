"""JSON routes of booking: availability, appointments, waitlist, 加号, no-shows, rosters, leave, coverage.

Thin: parse, call the service. Writes that a client may retry accept an `Idempotency-Key`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from regio.care.booking import (
    handlers,  # noqa: F401 (registers the jobs and outbox handlers)
    service,
)
from regio.care.booking.schemas import (
    AppointmentIn,
    AppointmentOut,
    CoverageOut,
    ExtraIn,
    LeaveIn,
    LeaveOut,
    MaterialiseIn,
    MaterialiseOut,
    NoShowOut,
    NotificationOut,
    ShiftCancelIn,
    ShiftIn,
    ShiftOut,
    SlotOut,
    TemplateIn,
    TemplateOut,
    WaitlistIn,
    WaitlistOut,
)
from regio.core import idempotency
from regio.core.deps import MAX_ID, CurrentPrincipal, IdempotencyKeyHeader, RecordId, SessionDep, SettingsDep
from regio.core.errors import InvalidInput

router = APIRouter(prefix="/api/care", tags=["booking"])

OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
City = Annotated[str | None, Query(min_length=6, max_length=6, pattern=r"^\d{6}$")]
Department = Annotated[str | None, Query(max_length=40)]
ModeQuery = Annotated[str | None, Query(max_length=10)]
# Dates far from today are refused as bad input before any arithmetic can overflow.
_DAY_LIMIT = 400


class DateOutOfRange(InvalidInput):
    code = "date_out_of_range"
    message_en = "Dates must lie within about a year of today."
    message_zh = "日期须在今天前后约一年之内。"


def _near(day: date | None) -> date | None:
    if day is not None and abs((day - service.registry_service.today()).days) > _DAY_LIMIT:
        raise DateOutOfRange(value=day.isoformat())
    return day


async def _idempotent(
    request: Request,
    session: Any,
    principal: Any,
    key: str | None,
    body: BaseModel | None,
    status: int,
    call: Callable[[idempotency.IdempotentRequest | None], Awaitable[BaseModel]],
) -> Response:
    scoped = idempotency.request_for(
        principal,
        route=f"{request.method} {request.url.path}",
        key=key,
        body=body.model_dump(mode="json") if body is not None else {},
    )

    async def action() -> idempotency.Answer:
        view = await call(scoped)
        return idempotency.Answer(status=status, body=view.model_dump(mode="json"))

    answer = await idempotency.run(session, scoped, action, language=request.state.language)
    return JSONResponse(answer.body, status_code=answer.status)


# ---- availability ------------------------------------------------------------------------------------


@router.get("/slots", response_model=list[SlotOut])
async def list_slots(
    session: SessionDep,
    principal: CurrentPrincipal,
    city: City = None,
    hospital_id: OptionalId = None,
    department: Department = None,
    doctor_id: OptionalId = None,
    date: Annotated[date | None, Query(alias="date")] = None,
    mode: ModeQuery = None,
    available_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=service.MAX_SLOT_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[SlotOut]:
    return await service.search_slots(
        session=session,
        principal=principal,
        city=city,
        hospital_id=hospital_id,
        department=department,
        doctor_id=doctor_id,
        day=_near(date),
        mode=mode,
        available_only=available_only,
        limit=limit,
        offset=offset,
    )


@router.get("/slots/{slot_id}", response_model=SlotOut)
async def get_slot(slot_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> SlotOut:
    return await service.get_slot(session=session, principal=principal, slot_id=slot_id)


@router.post("/slots/{slot_id}/extra", response_model=SlotOut)
async def grant_extra(
    slot_id: RecordId,
    body: ExtraIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    key: IdempotencyKeyHeader = None,
) -> Response:
    return await _idempotent(
        request,
        session,
        principal,
        key,
        body,
        200,
        lambda scoped: service.grant_extra(
            session=session,
            settings=settings,
            principal=principal,
            slot_id=slot_id,
            places=body.places,
            reason=body.reason,
            idempotency_request=scoped,
        ),
    )


# ---- appointments ------------------------------------------------------------------------------------


@router.post("/appointments", status_code=201, response_model=AppointmentOut)
async def create_appointment(
    body: AppointmentIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    key: IdempotencyKeyHeader = None,
) -> Response:
    return await _idempotent(
        request,
        session,
        principal,
        key,
        body,
        201,
        lambda scoped: service.book(
            session=session,
            settings=settings,
            principal=principal,
            slot_id=body.slot_id,
            patient_id=body.patient_id,
            mode=body.mode,
            idempotency_request=scoped,
            triage_assessment_id=body.triage_assessment_id,
        ),
    )


@router.get("/appointments", response_model=list[AppointmentOut])
async def my_appointments(session: SessionDep, principal: CurrentPrincipal) -> list[AppointmentOut]:
    return await service.my_appointments(session=session, principal=principal)


@router.get("/appointments/{appointment_id}", response_model=AppointmentOut)
async def get_appointment(
    appointment_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> AppointmentOut:
    return await service.get_appointment(session=session, principal=principal, appointment_id=appointment_id)


@router.post("/appointments/{appointment_id}/confirm", response_model=AppointmentOut)
async def confirm_appointment(
    appointment_id: RecordId,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    key: IdempotencyKeyHeader = None,
) -> Response:
    return await _idempotent(
        request,
        session,
        principal,
        key,
        None,
        200,
        lambda scoped: service.confirm(
            session=session,
            principal=principal,
            appointment_id=appointment_id,
            idempotency_request=scoped,
            settings=request.app.state.settings,
        ),
    )


@router.post("/appointments/{appointment_id}/cancel", response_model=AppointmentOut)
async def cancel_appointment(
    appointment_id: RecordId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    key: IdempotencyKeyHeader = None,
) -> Response:
    return await _idempotent(
        request,
        session,
        principal,
        key,
        None,
        200,
        lambda scoped: service.cancel(
            session=session,
            settings=settings,
            principal=principal,
            appointment_id=appointment_id,
            idempotency_request=scoped,
        ),
    )


@router.post("/appointments/{appointment_id}/no-show", response_model=NoShowOut)
async def mark_no_show(
    appointment_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> NoShowOut:
    return await service.mark_no_show(
        session=session, settings=settings, principal=principal, appointment_id=appointment_id
    )


# ---- waitlist ----------------------------------------------------------------------------------------


@router.post("/waitlist", status_code=201, response_model=WaitlistOut)
async def join_waitlist(
    body: WaitlistIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    key: IdempotencyKeyHeader = None,
) -> Response:
    return await _idempotent(
        request,
        session,
        principal,
        key,
        body,
        201,
        lambda scoped: service.join_waitlist(
            session=session,
            principal=principal,
            slot_id=body.slot_id,
            patient_id=body.patient_id,
            mode=body.mode,
            idempotency_request=scoped,
        ),
    )


@router.get("/waitlist", response_model=list[WaitlistOut])
async def my_waitlist(session: SessionDep, principal: CurrentPrincipal) -> list[WaitlistOut]:
    return await service.my_waitlist(session=session, principal=principal)


@router.delete("/waitlist/{entry_id}", response_model=WaitlistOut)
async def leave_waitlist(entry_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> WaitlistOut:
    return await service.leave_waitlist(session=session, principal=principal, entry_id=entry_id)


# ---- rosters -----------------------------------------------------------------------------------------


@router.post("/rosters/templates", status_code=201, response_model=TemplateOut)
async def create_template(body: TemplateIn, session: SessionDep, principal: CurrentPrincipal) -> TemplateOut:
    _near(body.valid_from)
    _near(body.valid_to)
    return await service.create_template(session=session, principal=principal, data=body)


@router.get("/rosters/templates", response_model=list[TemplateOut])
async def list_templates(
    session: SessionDep, principal: CurrentPrincipal, hospital_id: Annotated[int, Query(ge=1, le=MAX_ID)]
) -> list[TemplateOut]:
    return await service.list_templates(session=session, principal=principal, hospital_id=hospital_id)


@router.delete("/rosters/templates/{template_id}", response_model=TemplateOut)
async def deactivate_template(
    template_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> TemplateOut:
    return await service.deactivate_template(session=session, principal=principal, template_id=template_id)


@router.post("/rosters/materialise", response_model=MaterialiseOut)
async def materialise(
    body: MaterialiseIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> MaterialiseOut:
    return await service.materialise(
        session=session, settings=settings, principal=principal, hospital_id=body.hospital_id, days=body.days
    )


@router.post("/shifts", status_code=201, response_model=ShiftOut)
async def create_shift(body: ShiftIn, session: SessionDep, principal: CurrentPrincipal) -> ShiftOut:
    _near(body.local_date)
    return await service.create_shift(session=session, principal=principal, data=body)


@router.get("/shifts", response_model=list[ShiftOut])
async def list_shifts(
    session: SessionDep,
    principal: CurrentPrincipal,
    hospital_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    from_date: Annotated[date | None, Query(alias="from")] = None,
    to_date: Annotated[date | None, Query(alias="to")] = None,
) -> list[ShiftOut]:
    first = _near(from_date) or service.registry_service.today()
    last = _near(to_date) or first + timedelta(days=6)
    return await service.list_shifts(
        session=session, principal=principal, hospital_id=hospital_id, from_date=first, to_date=last
    )


@router.post("/shifts/{shift_id}/cancel", response_model=ShiftOut)
async def cancel_shift(
    shift_id: RecordId, body: ShiftCancelIn, session: SessionDep, principal: CurrentPrincipal
) -> ShiftOut:
    return await service.cancel_shift(
        session=session, principal=principal, shift_id=shift_id, reason=body.reason
    )


@router.get("/doctor/schedule")
async def doctor_schedule(
    session: SessionDep,
    principal: CurrentPrincipal,
    from_date: Annotated[date | None, Query(alias="from")] = None,
    to_date: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    first = _near(from_date) or service.registry_service.today()
    last = _near(to_date) or first + timedelta(days=6)
    shifts, appointments = await service.doctor_schedule(
        session=session, principal=principal, from_date=first, to_date=last
    )
    return {
        "shifts": [shift.model_dump(mode="json") for shift in shifts],
        "appointments": [appointment.model_dump(mode="json") for appointment in appointments],
    }


@router.post("/leaves", status_code=201, response_model=LeaveOut)
async def record_leave(body: LeaveIn, session: SessionDep, principal: CurrentPrincipal) -> LeaveOut:
    _near(body.from_date)
    _near(body.to_date)
    return await service.record_leave(session=session, principal=principal, data=body)


@router.get("/coverage", response_model=CoverageOut)
async def coverage(
    session: SessionDep,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=1, le=service.MAX_COVERAGE_DAYS)] = 14,
    hospital_id: OptionalId = None,
    from_date: Annotated[date | None, Query(alias="from")] = None,
) -> CoverageOut:
    return await service.coverage(
        session=session, principal=principal, days=days, hospital_id=hospital_id, from_date=_near(from_date)
    )


# ---- notifications -----------------------------------------------------------------------------------


@router.get("/notifications", response_model=list[NotificationOut])
async def notifications(session: SessionDep, principal: CurrentPrincipal) -> list[NotificationOut]:
    return await service.notifications(session=session, principal=principal)


@router.post("/notifications/read", status_code=204)
async def mark_read(session: SessionDep, principal: CurrentPrincipal) -> Response:
    await service.mark_notifications_read(session=session, principal=principal)
    return Response(status_code=204)
