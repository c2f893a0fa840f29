"""HTML pages of triage: /care/triage (the questionnaire) and /care/triage/{id} (the result card).

Thin: the form is parsed into the API's TriageIn and handed to the service; a refusal shows the
form again with its message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from regio.care.patients import service as patients_service
from regio.care.triage import policies, service
from regio.care.triage.schemas import TriageIn
from regio.core.deps import CurrentPrincipal, Language, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError, Forbidden, ValidationFailed
from regio.core.identity.csrf import CsrfForm
from regio.core.templating import render

router = APIRouter(tags=["triage pages"], include_in_schema=False)

_NUMBERS = ("temperature_c", "fever_days", "spo2")


async def _patients(session: Any, settings: Any, principal: Any) -> list[Any]:
    if not policies.may_act_for_patient(principal):
        return []
    try:
        return list(
            await patients_service.list_patients(session=session, settings=settings, principal=principal)
        )
    except Forbidden:
        return []


def _number(raw: str) -> float | None:
    raw = raw.strip()
    return float(raw) if raw else None


def _parse(form: Any) -> TriageIn:
    """The form as the API's request; a non-number becomes a validation refusal, not a crash."""
    values: dict[str, Any] = {
        "sex": form.get("sex") or "unknown",
        "pregnant": form.get("pregnant") == "yes",
        "breastfeeding": form.get("breastfeeding") == "yes",
        "symptoms": [str(code) for code in form.getlist("symptoms")][:40],
        "chronic_conditions": [str(code) for code in form.getlist("chronic_conditions")][:40],
    }
    try:
        age = _number(str(form.get("age", "")))
        for name in _NUMBERS:
            number = _number(str(form.get(name, "")))
            values[name] = number if name == "temperature_c" or number is None else int(number)
    except ValueError as exc:
        raise ValidationFailed(problems=[{"msg": "not a number"}]) from exc
    unit = form.get("age_unit", "years")
    if age is not None:
        values["age_months" if unit == "months" else "age_years"] = int(age)
    patient = str(form.get("patient_id", "")).strip()
    if patient:
        if not patient.isdigit():
            raise ValidationFailed(problems=[{"loc": ["patient_id"], "msg": "not an id"}])
        values["patient_id"] = int(patient)
    try:
        return TriageIn(**values)
    except ValidationError as exc:
        raise ValidationFailed(
            problems=[{"loc": list(map(str, p["loc"])), "msg": p["msg"]} for p in exc.errors()]
        ) from exc


@router.get("/care/triage")
async def triage_form(
    request: Request, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> Response:
    context = {
        "codes": service.codes(),
        "patients": await _patients(session, settings, principal),
        "values": {},
        "error": None,
    }
    return render(request, "triage/form.html", context)


@router.post("/care/triage", dependencies=[CsrfForm])
async def triage_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    language: Language,
) -> Response:
    form = await request.form()
    try:
        answer = await service.assess(
            session=session, principal=principal, data=_parse(form), language=language
        )
    except DomainError as refusal:
        context = {
            "codes": service.codes(),
            "patients": await _patients(session, settings, principal),
            "values": {key: form.getlist(key) for key in form},
            "error": refusal,
        }
        return render(request, "triage/form.html", context, status_code=refusal.status)
    return RedirectResponse(f"/care/triage/{answer.id}", status_code=303)


@router.get("/care/triage/{assessment_id}")
async def triage_result(
    request: Request,
    assessment_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    language: Language,
) -> Response:
    answer = await service.get_assessment(
        session=session, principal=principal, assessment_id=assessment_id, language=language
    )
    return render(request, "triage/result.html", {"result": answer})
