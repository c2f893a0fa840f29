"""JSON routes of clinical records: ICD-10 search, first-visit policies, prior offline diagnoses, and each
consultation's record (draft, diagnoses, attendance, signing, amendments, retention). Thin: parse, call
the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from regio.care.records import service
from regio.care.records.schemas import (
    AmendIn,
    AttendanceIn,
    DiagnosisAddedOut,
    DiagnosisIn,
    DraftIn,
    Icd10Out,
    PolicyIn,
    PolicyOut,
    PrescribingDecisionOut,
    PriorIn,
    PriorOut,
    ReasonOut,
    RecordOut,
    RecordSummaryOut,
    SignIn,
    VisitDecisionOut,
)
from regio.core.deps import MAX_ID, CurrentPrincipal, RecordId, SessionDep

router = APIRouter(tags=["records"])

RECORD = "/api/care/consultations/{consultation_id}/record"
CodePath = Annotated[str, Path(min_length=1, max_length=10)]


@router.get("/api/care/records/icd10", response_model=list[Icd10Out])
async def search_icd10(
    principal: CurrentPrincipal,
    q: Annotated[str, Query(max_length=50)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[Icd10Out]:
    return service.search_icd10(q, limit=limit)


@router.get("/api/care/records/first-visit-policies", response_model=list[PolicyOut])
async def list_policies(session: SessionDep, principal: CurrentPrincipal) -> list[PolicyOut]:
    return await service.list_policies(session=session, principal=principal)


@router.post("/api/care/records/first-visit-policies", status_code=201, response_model=PolicyOut)
async def save_policy(body: PolicyIn, session: SessionDep, principal: CurrentPrincipal) -> PolicyOut:
    return await service.save_policy(session=session, principal=principal, data=body)


@router.get("/api/care/records/history", response_model=list[RecordSummaryOut])
async def history(session: SessionDep, principal: CurrentPrincipal) -> list[RecordSummaryOut]:
    return await service.patient_history(session=session, principal=principal)


@router.post("/api/care/records/prior-diagnoses", status_code=201, response_model=PriorOut)
async def add_prior(body: PriorIn, session: SessionDep, principal: CurrentPrincipal) -> PriorOut:
    return await service.add_prior(session=session, principal=principal, data=body)


@router.get("/api/care/records/prior-diagnoses", response_model=list[PriorOut])
async def list_priors(
    session: SessionDep,
    principal: CurrentPrincipal,
    patient_id: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> list[PriorOut]:
    return await service.list_priors(session=session, principal=principal, patient_id=patient_id)


@router.get(RECORD, response_model=RecordOut)
async def get_record(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> RecordOut:
    return await service.get_record(session=session, principal=principal, consultation_id=consultation_id)


@router.put(RECORD, response_model=RecordOut)
async def save_draft(
    consultation_id: RecordId, body: DraftIn, session: SessionDep, principal: CurrentPrincipal
) -> RecordOut:
    return await service.save_draft(
        session=session, principal=principal, consultation_id=consultation_id, data=body
    )


@router.delete(RECORD, status_code=204)
async def delete_record(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.delete_record(session=session, principal=principal, consultation_id=consultation_id)
    return Response(status_code=204)


@router.post(RECORD + "/diagnoses", status_code=201, response_model=DiagnosisAddedOut)
async def add_diagnosis(
    consultation_id: RecordId, body: DiagnosisIn, session: SessionDep, principal: CurrentPrincipal
) -> DiagnosisAddedOut:
    record, decision = await service.add_diagnosis(
        session=session, principal=principal, consultation_id=consultation_id, code=body.code
    )
    return DiagnosisAddedOut(record=record, decision=decision)


@router.delete(RECORD + "/diagnoses/{code}", response_model=RecordOut)
async def remove_diagnosis(
    consultation_id: RecordId, code: CodePath, session: SessionDep, principal: CurrentPrincipal
) -> RecordOut:
    return await service.remove_diagnosis(
        session=session, principal=principal, consultation_id=consultation_id, code=code
    )


@router.post(RECORD + "/visit-type", response_model=VisitDecisionOut)
async def check_visit_type(
    consultation_id: RecordId, body: DiagnosisIn, session: SessionDep, principal: CurrentPrincipal
) -> VisitDecisionOut:
    return await service.check_visit_type(
        session=session, principal=principal, consultation_id=consultation_id, code=body.code
    )


@router.put(RECORD + "/attendance", response_model=RecordOut)
async def set_attendance(
    consultation_id: RecordId, body: AttendanceIn, session: SessionDep, principal: CurrentPrincipal
) -> RecordOut:
    return await service.set_attendance(
        session=session, principal=principal, consultation_id=consultation_id, data=body
    )


@router.post(RECORD + "/sign", response_model=RecordOut)
async def sign(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal, body: SignIn | None = None
) -> RecordOut:
    return await service.sign(
        session=session,
        principal=principal,
        consultation_id=consultation_id,
        revision=body.revision if body else None,
    )


@router.post(RECORD + "/amendments", status_code=201, response_model=RecordOut)
async def amend(
    consultation_id: RecordId, body: AmendIn, session: SessionDep, principal: CurrentPrincipal
) -> RecordOut:
    return await service.amend(
        session=session, principal=principal, consultation_id=consultation_id, reason=body.reason
    )


@router.get(RECORD + "/prior-diagnoses", response_model=list[PriorOut])
async def consultation_priors(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> list[PriorOut]:
    return await service.consultation_priors(
        session=session, principal=principal, consultation_id=consultation_id
    )


@router.post(RECORD + "/prior-diagnoses/{prior_id}/confirm", response_model=PriorOut)
async def confirm_prior(
    consultation_id: RecordId, prior_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> PriorOut:
    return await service.confirm_prior(
        session=session, principal=principal, consultation_id=consultation_id, prior_id=prior_id
    )


@router.get(RECORD + "/prescribing", response_model=PrescribingDecisionOut)
async def prescribing(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> PrescribingDecisionOut:
    decision = await service.prescribing_check(
        session=session, principal=principal, consultation_id=consultation_id
    )
    return PrescribingDecisionOut(
        allowed=decision.allowed,
        visit_type=decision.visit_type,
        reasons=[ReasonOut(code=r.code, zh=r.zh, en=r.en) for r in decision.reasons],
    )
