"""JSON routes of scales: the catalog, FHIR Questionnaires, responses, and urgent alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from regio.care.scales import (
    handlers,  # noqa: F401 (registers the escalation job and the outbox handler)
    service,
)
from regio.care.scales.schemas import AlertOut, NoticeOut, ResponseIn, ResponseOut, ScaleOut, ScaleSummaryOut
from regio.core import idempotency
from regio.core.deps import (
    CurrentPrincipal,
    IdempotencyKeyHeader,
    Language,
    Public,
    RecordId,
    SessionDep,
    SettingsDep,
)

router = APIRouter(prefix="/api/care/scales", tags=["scales"])

ScaleId = Path(pattern=r"^[a-z][a-z0-9_]{1,31}$")


@router.get("", dependencies=[Public], response_model=list[ScaleSummaryOut])
async def list_scales(settings: SettingsDep, language: Language) -> list[ScaleSummaryOut]:
    return service.list_scales(settings=settings, language=language)


@router.get("/alerts", response_model=list[AlertOut])
async def my_alerts(session: SessionDep, principal: CurrentPrincipal) -> list[AlertOut]:
    """Urgent alerts sent to me (on-duty psychiatrists; admins and doctors told on escalation)."""
    return await service.my_alerts(session=session, principal=principal)


@router.get("/notices", response_model=list[NoticeOut])
async def my_notices(session: SessionDep, principal: CurrentPrincipal, language: Language) -> list[NoticeOut]:
    return await service.notices(session=session, principal=principal, language=language)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge(alert_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> AlertOut:
    """Take the alert on; of two doctors at once exactly one succeeds, the other gets 409."""
    return await service.acknowledge(session=session, principal=principal, alert_id=alert_id)


@router.get("/responses/{response_id}")
async def get_response(
    response_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The stored FHIR R4 QuestionnaireResponse."""
    return await service.get_response_resource(session=session, principal=principal, response_id=response_id)


@router.get("/{scale}", dependencies=[Public], response_model=ScaleOut)
async def get_scale(settings: SettingsDep, language: Language, scale: str = ScaleId) -> ScaleOut:
    """One scale and its FHIR R4 Questionnaire."""
    return service.get_scale(settings=settings, scale_id=scale, language=language)


@router.post("/{scale}/responses", status_code=201, response_model=ResponseOut)
async def submit(
    body: ResponseIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    language: Language,
    scale: str = ScaleId,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Score, severity and urgent; urgent answers show the crisis hotlines at once and alert a psychiatrist.

    With an Idempotency-Key a retry gets the first answer and raises no second alert.
    """
    scoped = idempotency.request_for(
        principal, route=f"POST {request.url.path}", key=key, body=body.model_dump(mode="json")
    )

    async def action() -> idempotency.Answer:
        result = await service.submit(
            session=session,
            settings=settings,
            principal=principal,
            scale_id=scale,
            answers=body.answers,
            patient_id=body.patient_id,
            language=language,
            idempotency_request=scoped,
        )
        return idempotency.Answer(status=201, body=result.model_dump(mode="json"))

    answer = await idempotency.run(session, scoped, action, language=language)
    return JSONResponse(answer.body, status_code=answer.status)
