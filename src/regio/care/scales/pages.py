"""HTML pages of scales: the list, one scale with one question per card, the result, and a doctor's alerts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from regio.care.patients import service as patients_service
from regio.care.scales import errors, policies, service
from regio.core.access import Role
from regio.core.deps import CurrentPrincipal, Language, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError, Forbidden
from regio.core.identity.csrf import CsrfForm
from regio.core.templating import render

router = APIRouter(tags=["scales pages"], include_in_schema=False)

ScaleId = Path(pattern=r"^[a-z][a-z0-9_]{1,31}$")
NOTICES = {
    "acknowledged": (
        "您已接手该预警，请尽快联系患者。",
        "You have taken this alert on; contact the patient now.",
    )
}


async def _patients(session: Any, settings: Any, principal: Any) -> list[Any]:
    if not policies.may_submit(principal):
        return []
    try:
        return list(
            await patients_service.list_patients(session=session, settings=settings, principal=principal)
        )
    except Forbidden:
        return []


@router.get("/care/scales")
async def scales_home(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    language: Language,
) -> Response:
    context = {"scales": service.list_scales(settings=settings, language=language)}
    return render(request, "scales/index.html", context)


@router.get("/care/scales/alerts")
async def alerts_page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    language: Language,
    notice: str = Query(default="", max_length=40),
    error: str = Query(default="", max_length=60),
) -> Response:
    context = {
        "alerts": await service.my_alerts(session=session, principal=principal),
        "notices": await service.notices(session=session, principal=principal, language=language),
        "notice": NOTICES.get(notice),
        "error_code": error,
        "already": errors.AlertAlreadyAcknowledged,
        "shanghai": ZoneInfo("Asia/Shanghai"),
        "may_acknowledge": principal.has_role(Role.doctor),
    }
    return render(request, "scales/alerts.html", context)


@router.post("/care/scales/alerts/{alert_id}/acknowledge", dependencies=[CsrfForm])
async def acknowledge_alert(alert_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    try:
        await service.acknowledge(session=session, principal=principal, alert_id=alert_id)
    except DomainError as refusal:
        return RedirectResponse(f"/care/scales/alerts?error={refusal.code}", status_code=303)
    return RedirectResponse("/care/scales/alerts?notice=acknowledged", status_code=303)


@router.get("/care/scales/results/{response_id}")
async def result_page(
    request: Request,
    response_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    language: Language,
) -> Response:
    result = await service.get_response(
        session=session, settings=settings, principal=principal, response_id=response_id, language=language
    )
    scale = service.scale_or_404(settings, result.scale)
    return render(request, "scales/result.html", {"result": result, "scale": scale})


def _form_context(
    scale: Any, patients: list[Any], error: DomainError | None, chosen: dict[str, str]
) -> dict[str, Any]:
    return {
        "scale": scale,
        "patients": patients,
        "error": error,
        "chosen": chosen,
        "hotlines": service.crisis_hotlines("zh-CN"),
        "flag_items": {flag.item: flag.above for flag in scale.flags if flag.urgent},
    }


@router.get("/care/scales/{scale_id}")
async def scale_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    scale_id: str = ScaleId,
) -> Response:
    scale = service.scale_or_404(settings, scale_id)
    patients = await _patients(session, settings, principal)
    return render(request, "scales/form.html", _form_context(scale, patients, None, {}))


@router.post("/care/scales/{scale_id}", dependencies=[CsrfForm])
async def scale_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    language: Language,
    scale_id: str = ScaleId,
) -> Response:
    scale = service.scale_or_404(settings, scale_id)
    form = await request.form()
    chosen = {item.link_id: str(form.get(f"item-{item.link_id}", "")) for item in scale.items}
    try:
        answers: list[int] = []
        for position, item in enumerate(scale.items, start=1):
            raw = chosen[item.link_id]
            if not raw:
                raise errors.WrongAnswerCount(scale=scale.id, expected=len(scale.items), given=position - 1)
            if not raw.isdigit():
                raise errors.AnswerOutOfRange(
                    position=position, value=raw[:10], allowed=sorted(scale.option_values)
                )
            answers.append(int(raw))
        patient = str(form.get("patient_id", "")).strip()
        result = await service.submit(
            session=session,
            settings=settings,
            principal=principal,
            scale_id=scale.id,
            answers=answers,
            patient_id=int(patient) if patient.isdigit() else None,
            language=language,
        )
    except DomainError as refusal:
        patients = await _patients(session, settings, principal)
        return render(
            request,
            "scales/form.html",
            _form_context(scale, patients, refusal, chosen),
            status_code=refusal.status,
        )
    return RedirectResponse(f"/care/scales/results/{result.id}", status_code=303)
