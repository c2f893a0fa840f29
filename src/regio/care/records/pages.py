"""HTML pages of clinical records: the doctor's record editor beside the consultation room, and the
patient's history of signed records.

Thin: every POST is a CSRF-checked form that calls the service and redirects back with a notice or the
refusal's stable code, which the page shows in the reader's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from regio.care.records import errors, service
from regio.care.records.enums import VISIT_TYPE_LABELS
from regio.care.records.policies import SHANGHAI
from regio.care.records.schemas import AttendanceIn, DraftIn
from regio.care.registry import errors as registry_errors
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep
from regio.core.errors import DomainError
from regio.core.identity.csrf import CsrfForm
from regio.core.templating import render

router = APIRouter(tags=["records pages"], include_in_schema=False)

EDITOR = "/care/consultations/{}/record"


def _local(instant: datetime | None) -> str:
    """An instant as Beijing time, as every page shows times."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if instant else ""


NOTICES = {
    "saved": ("病历草稿已保存。", "Draft saved."),
    "diagnosis_added": ("诊断已添加。", "Diagnosis added."),
    "diagnosis_removed": ("诊断已删除。", "Diagnosis removed."),
    "attendance": ("在场情况已记录。", "Attendance recorded."),
    "signed": ("病历已签名并锁定。", "Record signed and locked."),
    "amending": ("已新建更正版本，请修改后重新签名。", "Amendment opened: edit it and sign again."),
    "confirmed": ("上传病历已确认，可作为复诊依据。", "Upload confirmed: it now counts for follow-ups."),
}
Notice = Annotated[str, Query(max_length=40)]
ErrorCode = Annotated[str, Query(max_length=60)]
Detail = Annotated[str, Query(max_length=20)]


def _known_errors() -> dict[str, type[DomainError]]:
    found: dict[str, type[DomainError]] = {}
    for module in (errors, registry_errors):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, DomainError):
                found[value.code] = value
    return found


def _error_text(code: str, category: str) -> tuple[str, str] | None:
    error = _known_errors().get(code)
    if error is None:
        return None
    shown = error(
        category=category or "?", version="", years=15, earliest="", value="", reason="", reason_zh=""
    )
    return shown.message("zh"), shown.message("en")


def _back(consultation_id: int, *, notice: str = "", error: DomainError | None = None) -> Response:
    query: dict[str, str] = {}
    if notice:
        query["notice"] = notice
    if error is not None:
        query["error"] = error.code
        category = error.details.get("category")
        if isinstance(category, str):
            query["category"] = category
    suffix = ("?" + urlencode(query)) if query else ""
    return RedirectResponse(EDITOR.format(consultation_id) + suffix, status_code=303)


@router.get("/care/consultations/{consultation_id}/record")
async def record_editor(
    request: Request,
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    notice: Notice = "",
    error: ErrorCode = "",
    category: Detail = "",
) -> Response:
    state = await service.editor(session=session, principal=principal, consultation_id=consultation_id)
    latest = state.record.versions[0] if state.record else None
    return render(
        request,
        "records/editor.html",
        {
            "state": state,
            "latest": latest,
            "older": state.record.versions[1:] if state.record else [],
            "symptoms": service.symptoms(),
            "visit_labels": {kind.value: label for kind, label in VISIT_TYPE_LABELS.items()},
            "notice": NOTICES.get(notice),
            "error": _error_text(error, category) if error else None,
            "error_code": error,
            "local": _local,
        },
    )


@router.post("/care/consultations/{consultation_id}/record/draft", dependencies=[CsrfForm])
async def save_draft(
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    notes: Annotated[str, Form(max_length=20_000)] = "",
    advice: Annotated[str, Form(max_length=5_000)] = "",
    symptoms: Annotated[list[str] | None, Form(max_length=20)] = None,
    revision: Annotated[int | None, Form(ge=0, le=1_000_000_000)] = None,
) -> Response:
    try:
        await service.save_draft(
            session=session,
            principal=principal,
            consultation_id=consultation_id,
            data=DraftIn(notes=notes, advice=advice, symptom_codes=symptoms or [], revision=revision),
        )
    except DomainError as refusal:
        return _back(consultation_id, error=refusal)
    return _back(consultation_id, notice="saved")


@router.post("/care/consultations/{consultation_id}/record/diagnoses", dependencies=[CsrfForm])
async def add_diagnosis(
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    code: Annotated[str, Form(min_length=1, max_length=10)],
) -> Response:
    try:
        await service.add_diagnosis(
            session=session, principal=principal, consultation_id=consultation_id, code=code
        )
    except DomainError as refusal:
        return _back(consultation_id, error=refusal)
    return _back(consultation_id, notice="diagnosis_added")


@router.post("/care/consultations/{consultation_id}/record/diagnoses/remove", dependencies=[CsrfForm])
async def remove_diagnosis(
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    code: Annotated[str, Form(min_length=1, max_length=10)],
) -> Response:
    try:
        await service.remove_diagnosis(
            session=session, principal=principal, consultation_id=consultation_id, code=code
        )
    except DomainError as refusal:
        return _back(consultation_id, error=refusal)
    return _back(consultation_id, notice="diagnosis_removed")


@router.post("/care/consultations/{consultation_id}/record/attendance", dependencies=[CsrfForm])
async def set_attendance(
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    guardian_present: Annotated[bool, Form()] = False,
    specialist_present: Annotated[bool, Form()] = False,
    specialist_name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        await service.set_attendance(
            session=session,
            principal=principal,
            consultation_id=consultation_id,
            data=AttendanceIn(
                guardian_present=guardian_present,
                specialist_present=specialist_present,
                specialist_name=specialist_name,
            ),
        )
    except DomainError as refusal:
        return _back(consultation_id, error=refusal)
    return _back(consultation_id, notice="attendance")


@router.post("/care/consultations/{consultation_id}/record/sign", dependencies=[CsrfForm])
async def sign(
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    revision: Annotated[int | None, Form(ge=0, le=1_000_000_000)] = None,
) -> Response:
    try:
        await service.sign(
            session=session, principal=principal, consultation_id=consultation_id, revision=revision
        )
    except DomainError as refusal:
        return _back(consultation_id, error=refusal)
    return _back(consultation_id, notice="signed")


@router.post("/care/consultations/{consultation_id}/record/amend", dependencies=[CsrfForm])
async def amend(
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    reason: Annotated[str, Form(max_length=1_000)] = "",
) -> Response:
    try:
        await service.amend(
            session=session, principal=principal, consultation_id=consultation_id, reason=reason
        )
    except DomainError as refusal:
        return _back(consultation_id, error=refusal)
    return _back(consultation_id, notice="amending")


@router.post(
    "/care/consultations/{consultation_id}/record/prior-diagnoses/{prior_id}/confirm", dependencies=[CsrfForm]
)
async def confirm_prior(
    consultation_id: RecordId, prior_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    try:
        await service.confirm_prior(
            session=session, principal=principal, consultation_id=consultation_id, prior_id=prior_id
        )
    except DomainError as refusal:
        return _back(consultation_id, error=refusal)
    return _back(consultation_id, notice="confirmed")


@router.get("/care/records")
async def history(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    items = await service.patient_history(session=session, principal=principal)
    return render(
        request,
        "records/history.html",
        {"items": items, "visit_labels": {k.value: v for k, v in VISIT_TYPE_LABELS.items()}, "local": _local},
    )


@router.get("/care/records/{consultation_id}")
async def record_page(
    request: Request, consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    record = await service.get_record(session=session, principal=principal, consultation_id=consultation_id)
    signed = [v for v in record.versions if v.signed]
    return render(
        request,
        "records/record.html",
        {
            "record": record,
            "current": signed[0],
            "older": signed[1:],
            "symptoms": service.symptoms(),
            "visit_labels": {k.value: v for k, v in VISIT_TYPE_LABELS.items()},
            "local": _local,
        },
    )
