"""JSON routes of triage: the published code list, an assessment, reading one back."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from regio.care.triage import service
from regio.care.triage.schemas import CodesOut, TriageIn, TriageOut
from regio.core import idempotency
from regio.core.deps import CurrentPrincipal, IdempotencyKeyHeader, Language, Public, RecordId, SessionDep

router = APIRouter(prefix="/api/care/triage", tags=["triage"])


@router.get("/codes", dependencies=[Public], response_model=CodesOut)
async def triage_codes(language: Language) -> CodesOut:
    """Symptom and chronic-condition codes the questionnaire accepts, with Chinese and English labels."""
    return service.codes(language=language)


@router.post("", status_code=201, response_model=TriageOut)
async def assess(
    body: TriageIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    language: Language,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Department, urgency and advice for the answers; go_offline means: an emergency department now."""
    scoped = idempotency.request_for(
        principal, route=f"POST {request.url.path}", key=key, body=body.model_dump(mode="json")
    )

    async def action() -> idempotency.Answer:
        result = await service.assess(
            session=session, principal=principal, data=body, language=language, idempotency_request=scoped
        )
        return idempotency.Answer(status=201, body=result.model_dump(mode="json"))

    answer = await idempotency.run(session, scoped, action, language=language)
    return JSONResponse(answer.body, status_code=answer.status)


@router.get("/{assessment_id}", response_model=TriageOut)
async def get_assessment(
    assessment_id: RecordId, session: SessionDep, principal: CurrentPrincipal, language: Language
) -> TriageOut:
    return await service.get_assessment(
        session=session, principal=principal, assessment_id=assessment_id, language=language
    )
