"""JSON routes for patients and family-member bindings; thin wrappers over the service."""

from __future__ import annotations

from fastapi import APIRouter, Response

from regio.care.patients import service
from regio.care.patients.schemas import (
    BindingOut,
    BindingRequestIn,
    BindingRequestOut,
    BindingRequestsOut,
    BoundPatientOut,
    PatientIn,
    PatientListOut,
    RevealOut,
)
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep, SettingsDep

router = APIRouter(prefix="/api/care/patients", tags=["patients"])


@router.post("", status_code=201, response_model=BoundPatientOut)
async def register_patient(
    body: PatientIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> BoundPatientOut:
    """Register yourself or a family member; 409 patient_exists means: send a binding request instead."""
    return await service.register_patient(
        session=session,
        settings=settings,
        principal=principal,
        name=body.name,
        id_number=body.id_number,
        phone=body.phone,
        relation=body.relation,
    )


@router.get("", response_model=PatientListOut)
async def list_patients(
    session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> PatientListOut:
    """The patients you may act for (active bindings), masked."""
    items = await service.list_patients(session=session, settings=settings, principal=principal)
    return PatientListOut(items=items)


@router.get("/bindings", response_model=BindingRequestsOut)
async def binding_requests(session: SessionDep, principal: CurrentPrincipal) -> BindingRequestsOut:
    """Pending requests you may answer (incoming) and your own requests still waiting (outgoing)."""
    return await service.binding_requests(session=session, principal=principal)


@router.post("/bindings", status_code=201, response_model=BindingRequestOut)
async def request_binding(
    body: BindingRequestIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> BindingRequestOut:
    """Ask to bind an already registered person; pending until they (or a minor's guardian) accept."""
    return await service.request_binding(
        session=session,
        settings=settings,
        principal=principal,
        id_number=body.id_number,
        relation=body.relation,
    )


@router.post("/bindings/{binding_id}/accept", response_model=BindingOut)
async def accept_binding(
    binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> BindingOut:
    return await service.accept_binding(session=session, principal=principal, binding_id=binding_id)


@router.post("/bindings/{binding_id}/decline", response_model=BindingOut)
async def decline_binding(
    binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> BindingOut:
    return await service.decline_binding(session=session, principal=principal, binding_id=binding_id)


@router.delete("/bindings/{binding_id}", response_model=BindingOut)
async def end_binding(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> BindingOut:
    """Unbind (the row is kept, status ended) or withdraw a pending request."""
    return await service.end_binding(session=session, principal=principal, binding_id=binding_id)


@router.get("/{patient_id}", response_model=BoundPatientOut)
async def get_patient(
    patient_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> BoundPatientOut:
    return await service.get_patient(
        session=session, settings=settings, principal=principal, patient_id=patient_id
    )


@router.post("/{patient_id}/reveal", response_model=RevealOut)
async def reveal_patient(
    patient_id: RecordId,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> RevealOut:
    """The clear identity number and phone: for the person themselves or a minor's guardian; audited."""
    response.headers["Cache-Control"] = "no-store"  # clear personal data must not linger in caches
    return await service.reveal_patient(
        session=session, settings=settings, principal=principal, patient_id=patient_id
    )
