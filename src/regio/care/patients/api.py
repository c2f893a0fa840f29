"""JSON routes for patients, family-member bindings and one-time-code claims; thin wrappers over the service."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.routing import APIRoute

from regio.care.patients import service
from regio.care.patients.schemas import (
    BindingOut,
    BindingRequestIn,
    BindingRequestRecordedOut,
    BindingRequestsOut,
    BoundPatientOut,
    ClaimConfirmedOut,
    ClaimIn,
    CodeIn,
    CodeRequestIn,
    CodeSentOut,
    PatientIn,
    PatientListOut,
    RevealOut,
)
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep, SettingsDep
from regio.core.sms import DeferredSmsGateway, SmsGateway, sms_gateway_for


class NoStoreRoute(APIRoute):
    """Marks every answer `Cache-Control: no-store`: personal data, even masked, stays out of caches."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def no_store(request: Request) -> Response:
            response = await handler(request)
            response.headers["Cache-Control"] = "no-store"
            return response

        return no_store


def get_sms_gateway(request: Request, background: BackgroundTasks) -> SmsGateway:
    """The process's gateway (tests put one on app.state), sending after the answer so timing tells nothing."""
    gateway: SmsGateway | None = getattr(request.app.state, "sms_gateway", None)
    if gateway is None:
        gateway = sms_gateway_for(request.app.state.settings)
        request.app.state.sms_gateway = gateway
    return DeferredSmsGateway(gateway, background.add_task)


SmsDep = Annotated[SmsGateway, Depends(get_sms_gateway)]

router = APIRouter(prefix="/api/care/patients", tags=["patients"], route_class=NoStoreRoute)


@router.post("", status_code=201, response_model=BoundPatientOut)
async def register_patient(
    body: PatientIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal, sms: SmsDep
) -> BoundPatientOut:
    """Register yourself or a family member; 409 patient_exists means: request a binding, or claim with a code.

    An adult family member is bound only once they consent: the binding is pending and `consent`
    says where the code for that consent went (confirm it at /claims/{claim_id}/confirm).
    """
    return await service.register_patient(
        session=session,
        settings=settings,
        principal=principal,
        name=body.name,
        id_number=body.id_number,
        phone=body.phone,
        relation=body.relation,
        sms=sms,
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


@router.post("/bindings", status_code=202, response_model=BindingRequestRecordedOut)
async def request_binding(
    body: BindingRequestIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> BindingRequestRecordedOut:
    """Ask to bind a person by number: 202 "recorded" whether or not they are registered; they decide."""
    return await service.request_binding(
        session=session,
        settings=settings,
        principal=principal,
        id_number=body.id_number,
        relation=body.relation,
    )


@router.delete("/bindings/requests/{request_id}", status_code=204)
async def withdraw_request(
    request_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Withdraw one of your waiting requests (its pending binding ends and is kept as history)."""
    await service.withdraw_request(session=session, principal=principal, request_id=request_id)
    return Response(status_code=204)


@router.post("/bindings/requests/{request_id}/code", status_code=202, response_model=CodeSentOut)
async def request_consent_code(
    request_id: RecordId,
    body: CodeRequestIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    sms: SmsDep,
) -> CodeSentOut:
    """Send the person a consent code, if the phone given is the one on their record (same answer either way)."""
    return await service.request_consent_code(
        session=session,
        settings=settings,
        principal=principal,
        sms=sms,
        request_id=request_id,
        phone=body.phone,
    )


@router.post("/bindings/{binding_id}/accept", response_model=BindingOut)
async def accept_binding(
    binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> BindingOut:
    """Accept a pending request to bind you (or a minor in your guardianship); it becomes active."""
    return await service.accept_binding(session=session, principal=principal, binding_id=binding_id)


@router.post("/bindings/{binding_id}/decline", response_model=BindingOut)
async def decline_binding(
    binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> BindingOut:
    """Decline a pending request to bind you (or a minor in your guardianship); it ends, kept as history."""
    return await service.decline_binding(session=session, principal=principal, binding_id=binding_id)


@router.delete("/bindings/{binding_id}", response_model=BindingOut)
async def end_binding(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> BindingOut:
    """Unbind (the row is kept, status ended) or withdraw a pending request."""
    return await service.end_binding(session=session, principal=principal, binding_id=binding_id)


@router.post("/claims", status_code=202, response_model=CodeSentOut)
async def start_claim(
    body: ClaimIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal, sms: SmsDep
) -> CodeSentOut:
    """This record is me: a code goes to the phone on it if number and phone match (same answer either way)."""
    return await service.start_claim(
        session=session,
        settings=settings,
        principal=principal,
        sms=sms,
        id_number=body.id_number,
        phone=body.phone,
    )


@router.post("/claims/{claim_id}/confirm", response_model=ClaimConfirmedOut)
async def confirm_code(
    claim_id: RecordId, body: CodeIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> ClaimConfirmedOut:
    """Confirm a code (5 tries, 10 minutes): become the person, or bind the person who handed it over."""
    return await service.confirm_code(
        session=session, settings=settings, principal=principal, claim_id=claim_id, code=body.code
    )


@router.get("/{patient_id}", response_model=BoundPatientOut)
async def get_patient(
    patient_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> BoundPatientOut:
    """One patient you may act for, masked, with the binding that allows it; audited."""
    return await service.get_patient(
        session=session, settings=settings, principal=principal, patient_id=patient_id
    )


@router.post("/{patient_id}/reveal", response_model=RevealOut)
async def reveal_patient(
    patient_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> RevealOut:
    """The clear identity number and phone: for the person themselves or a minor's guardian; audited."""
    return await service.reveal_patient(
        session=session, settings=settings, principal=principal, patient_id=patient_id
    )
