"""HTML pages of consultation: history, the quick-question form, the doctor's workbench, the room.

Thin: every POST is a CSRF-checked form that calls the service and redirects with a notice or the
refusal's stable code. The room's chat and calls run in /static/consultation.js over the WebSocket.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from regio.care.consultation import errors, service
from regio.care.consultation.api import live_events
from regio.care.consultation.enums import Mode, Status, Urgency
from regio.care.consultation.schemas import QuickQuestionIn
from regio.care.patients import service as patients_service
from regio.care.registry import service as registry_service
from regio.care.triage import errors as triage_errors
from regio.core.access import Role
from regio.core.deps import MAX_ID, CurrentPrincipal, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError, Forbidden
from regio.core.identity.csrf import CsrfForm
from regio.core.templating import render

router = APIRouter(tags=["consultation pages"], include_in_schema=False)

FormId = Annotated[int, Form(ge=1, le=MAX_ID)]

STATUS_LABELS = {
    "waiting": ("候诊中", "Waiting"),
    "in_progress": ("问诊中", "In progress"),
    "completed": ("已完成", "Completed"),
    "cancelled": ("已取消", "Cancelled"),
    "no_show": ("未到诊", "No-show"),
    "offered": ("等待医生接诊", "Waiting for a doctor"),
    "accepted": ("已接诊", "Accepted"),
}
MODE_LABELS = {"text": ("图文", "Text"), "voice": ("语音", "Voice"), "video": ("视频", "Video")}
URGENCY_LABELS = {"routine": ("普通", "Routine"), "soon": ("较急", "Soon"), "urgent": ("紧急", "Urgent")}
NOTICES = {
    "asked": (
        "问题已发出，值班医生接诊后会出现在下方。",
        "Your question is sent; it appears below once a doctor accepts.",
    ),
    "cancelled": ("已取消。", "Cancelled."),
}


def _known_errors() -> dict[str, type[DomainError]]:
    found: dict[str, type[DomainError]] = {}
    # a quick question from a triage result may be refused by triage's own rules (go offline)
    for value in [*vars(errors).values(), *vars(triage_errors).values()]:
        if isinstance(value, type) and issubclass(value, DomainError):
            found[value.code] = value
    return found


def _error_message(code: str) -> tuple[str, str] | None:
    error = _known_errors().get(code)
    if error is None:
        return None
    zh = error.message_zh.split("{")[0].rstrip("，, ") or error.message_zh
    en = error.message_en.split("{")[0].rstrip(", ") or error.message_en
    return zh, en


def _back(path: str, *, notice: str = "", error: DomainError | None = None) -> Response:
    query = f"?notice={notice}" if notice else ""
    if error is not None:
        query = f"?error={error.code}"
    return RedirectResponse(path + query, status_code=303)


def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "mode_labels": MODE_LABELS, "urgency_labels": URGENCY_LABELS}


@router.get("/care/consultations")
async def history_page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    notice: Annotated[str, Query(max_length=40)] = "",
    error: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    items = await service.history(session=session, principal=principal)
    questions = (
        await service.my_questions(session=session, principal=principal)
        if principal.has_role(Role.patient)
        else []
    )
    context = {
        "items": items,
        "questions": questions,
        "notice": NOTICES.get(notice),
        "error": _error_message(error) if error else None,
        **_labels(),
    }
    return render(request, "consultation/history.html", context)


@router.get("/care/consultations/quick")
async def quick_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    error: Annotated[str, Query(max_length=60)] = "",
    department: Annotated[str, Query(max_length=32)] = "",
    triage_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The form; from a triage result it comes with the department chosen and the assessment attached."""
    if not principal.has_role(Role.patient):
        raise Forbidden(action="quick_question")
    patients = await patients_service.list_patients(session=session, settings=settings, principal=principal)
    hospitals = await registry_service.search_hospitals(session=session, principal=principal, page_size=100)
    context = {
        "patients": [p for p in patients if p.binding.status == "active"],
        "hospitals": hospitals.items,
        "departments": registry_service.list_departments(),
        "modes": [m.value for m in Mode],
        "urgencies": [u.value for u in Urgency],
        "error": _error_message(error) if error else None,
        "chosen_department": department,
        "chosen_hospital": next(
            (h.id for h in hospitals.items if any(d.code == department for d in h.departments)), None
        ),
        "triage_id": triage_id,
        **_labels(),
    }
    return render(request, "consultation/quick.html", context)


@router.post("/care/consultations/quick", dependencies=[CsrfForm])
async def quick_ask(
    session: SessionDep,
    principal: CurrentPrincipal,
    patient_id: FormId,
    hospital_id: FormId,
    department_code: Annotated[str, Form(max_length=32)],
    text: Annotated[str, Form(max_length=2000)],
    mode: Annotated[str, Form(max_length=10)] = "text",
    urgency: Annotated[str, Form(max_length=10)] = "routine",
    triage_assessment_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    try:
        data = QuickQuestionIn(
            triage_assessment_id=triage_assessment_id,
            patient_id=patient_id,
            hospital_id=hospital_id,
            department_code=department_code,
            text=text,
            mode=Mode(mode) if mode in Mode.__members__ else Mode.text,
            urgency=Urgency(urgency) if urgency in Urgency.__members__ else Urgency.routine,
        )
    except ValueError:
        return _back("/care/consultations/quick", error=errors.EmptyMessage())
    try:
        await service.ask_quick_question(session=session, principal=principal, data=data)
    except DomainError as refusal:
        return _back("/care/consultations/quick", error=refusal)
    return _back("/care/consultations", notice="asked")


@router.post("/care/consultations/quick/{question_id}/cancel", dependencies=[CsrfForm])
async def quick_cancel(question_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    try:
        await service.cancel_question(session=session, principal=principal, question_id=question_id)
    except DomainError as refusal:
        return _back("/care/consultations", error=refusal)
    return _back("/care/consultations", notice="cancelled")


@router.get("/care/consultations/workbench")
async def workbench(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    error: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    queue = await service.doctor_queue(session=session, settings=settings, principal=principal)
    offered = await service.offered_questions(session=session, principal=principal)
    context = {
        "queue": queue,
        "offered": offered,
        "error": _error_message(error) if error else None,
        **_labels(),
    }
    return render(request, "consultation/workbench.html", context)


@router.post("/care/consultations/workbench/accept/{question_id}", dependencies=[CsrfForm])
async def workbench_accept(
    question_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    try:
        c = await service.accept_question(session=session, principal=principal, question_id=question_id)
    except DomainError as refusal:
        return _back("/care/consultations/workbench", error=refusal)
    return RedirectResponse(f"/care/consultations/{c.id}", status_code=303)


@router.post("/care/consultations/from-appointment", dependencies=[CsrfForm])
async def from_appointment(
    appointment_id: FormId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    try:
        c = await service.open_from_appointment(
            session=session, principal=principal, appointment_id=appointment_id
        )
    except DomainError as refusal:
        return _back("/care/consultations", error=refusal)
    return RedirectResponse(f"/care/consultations/{c.id}", status_code=303)


_MOVES = {
    "start": Status.in_progress,
    "complete": Status.completed,
    "cancel": Status.cancelled,
    "no-show": Status.no_show,
}


@router.post("/care/consultations/{consultation_id}/move/{transition}", dependencies=[CsrfForm])
async def move(
    request: Request,
    consultation_id: RecordId,
    transition: str,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    target = _MOVES.get(transition)
    here = f"/care/consultations/{consultation_id}"
    if target is None:
        return _back(here, error=errors.IllegalTransition(current="?", requested=transition[:20]))
    try:
        await service.move(
            session=session,
            principal=principal,
            consultation_id=consultation_id,
            target=target,
            events=live_events(request),
        )
    except DomainError as refusal:
        return _back(here, error=refusal)
    return RedirectResponse(here, status_code=303)


@router.get("/care/consultations/{consultation_id}")
async def room(
    request: Request,
    consultation_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    error: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    c = await service.get_consultation(
        session=session, settings=settings, principal=principal, consultation_id=consultation_id
    )
    calls_allowed = {"text": [], "voice": ["voice"], "video": ["voice", "video"]}[c.mode]
    context = {
        "c": c,
        "calls_allowed": calls_allowed,
        "error": _error_message(error) if error else None,
        **_labels(),
    }
    return render(request, "consultation/room.html", context)
