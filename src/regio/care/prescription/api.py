"""JSON routes of the drug catalog, safety checks, prescriptions, pharmacist review, pickup and delivery,
and the courier's signed status webhook. Thin: parse, call the service."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from regio.care.prescription import couriers, handlers, service
from regio.care.prescription.schemas import (
    CheckIn,
    CheckOut,
    DrugOut,
    FulfilmentIn,
    KeyIn,
    KeyOut,
    PharmacyOut,
    PickupIn,
    PrescriptionIn,
    PrescriptionOut,
    QueueItemOut,
    RepeatIn,
    ReviewIn,
    SignIn,
    StatsOut,
)
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep, SettingsDep, public_route
from regio.core.webhooks import SIGNATURE_HEADER

router = APIRouter(tags=["prescription"])

ONE = "/api/care/prescriptions/{prescription_id}"
Public = Depends(public_route)
CourierName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]

# Imported for its registrations (the SLA job and outbox handlers) when the routes are.
__all__ = ["handlers", "router"]


@router.get("/api/care/drugs", response_model=list[DrugOut])
async def search_drugs(
    session: SessionDep,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(max_length=50)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[DrugOut]:
    return await service.search_drugs(session=session, principal=principal, query=q, limit=limit)


@router.post("/api/care/prescriptions/check", response_model=CheckOut)
async def check(body: CheckIn, session: SessionDep, principal: CurrentPrincipal) -> CheckOut:
    return await service.check(session=session, principal=principal, data=body)


@router.get("/api/care/prescriptions/signing-key", response_model=KeyOut)
async def key_status(session: SessionDep, principal: CurrentPrincipal) -> KeyOut:
    return await service.key_status(session=session, principal=principal)


@router.post("/api/care/prescriptions/signing-key", status_code=201, response_model=KeyOut)
async def create_key(
    body: KeyIn, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> KeyOut:
    return await service.create_key(session=session, principal=principal, data=body, settings=settings)


@router.get("/api/care/prescriptions/review-queue", response_model=list[QueueItemOut])
async def review_queue(session: SessionDep, principal: CurrentPrincipal) -> list[QueueItemOut]:
    return await service.review_queue(session=session, principal=principal)


@router.get("/api/care/prescriptions/statistics", response_model=StatsOut)
async def statistics(
    session: SessionDep,
    principal: CurrentPrincipal,
    hospital_id: Annotated[int, Query(ge=1, le=2**63 - 1)],
    from_date: Annotated[date, Query(alias="from")],
    to_date: Annotated[date, Query(alias="to")],
) -> StatsOut:
    return await service.statistics(
        session=session, principal=principal, hospital_id=hospital_id, from_date=from_date, to_date=to_date
    )


@router.get("/api/care/prescriptions", response_model=list[PrescriptionOut])
async def list_mine(session: SessionDep, principal: CurrentPrincipal) -> list[PrescriptionOut]:
    return await service.list_mine(session=session, principal=principal)


@router.post(
    "/api/care/consultations/{consultation_id}/prescriptions", status_code=201, response_model=PrescriptionOut
)
async def create(
    consultation_id: RecordId, body: PrescriptionIn, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.create(
        session=session, principal=principal, consultation_id=consultation_id, data=body
    )


@router.get("/api/care/consultations/{consultation_id}/prescriptions", response_model=list[PrescriptionOut])
async def of_consultation(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> list[PrescriptionOut]:
    return await service.of_consultation(
        session=session, principal=principal, consultation_id=consultation_id
    )


@router.get(ONE, response_model=PrescriptionOut)
async def get(prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> PrescriptionOut:
    return await service.get(session=session, principal=principal, prescription_id=prescription_id)


@router.get(ONE + "/fhir")
async def fhir(prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    view = await service.get(session=session, principal=principal, prescription_id=prescription_id)
    return service.fhir_bundle(view)


@router.put(ONE, response_model=PrescriptionOut)
async def update(
    prescription_id: RecordId, body: PrescriptionIn, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.update(
        session=session, principal=principal, prescription_id=prescription_id, data=body
    )


@router.post(ONE + "/sign", response_model=PrescriptionOut)
async def sign(
    prescription_id: RecordId,
    body: SignIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> PrescriptionOut:
    return await service.sign(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        pin=body.pin,
        revision=body.revision,
        overrides=body.overrides,
        settings=settings,
    )


@router.post(ONE + "/withdraw", response_model=PrescriptionOut)
async def withdraw(
    prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.withdraw(session=session, principal=principal, prescription_id=prescription_id)


@router.post(ONE + "/repeat", status_code=201, response_model=PrescriptionOut)
async def repeat(
    prescription_id: RecordId, body: RepeatIn, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.repeat(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        consultation_id=body.consultation_id,
    )


@router.post(ONE + "/claim", response_model=PrescriptionOut)
async def claim(
    prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.claim(session=session, principal=principal, prescription_id=prescription_id)


@router.post(ONE + "/release", response_model=PrescriptionOut)
async def release(
    prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.release(session=session, principal=principal, prescription_id=prescription_id)


@router.post(ONE + "/approve", response_model=PrescriptionOut)
async def approve(
    prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.approve(session=session, principal=principal, prescription_id=prescription_id)


@router.post(ONE + "/reject", response_model=PrescriptionOut)
async def reject(
    prescription_id: RecordId, body: ReviewIn, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.reject(
        session=session, principal=principal, prescription_id=prescription_id, reason=body.reason
    )


@router.post(ONE + "/return", response_model=PrescriptionOut)
async def send_back(
    prescription_id: RecordId, body: ReviewIn, session: SessionDep, principal: CurrentPrincipal
) -> PrescriptionOut:
    return await service.send_back(
        session=session, principal=principal, prescription_id=prescription_id, reason=body.reason
    )


@router.get(ONE + "/pharmacies", response_model=list[PharmacyOut])
async def pharmacies(
    prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> list[PharmacyOut]:
    return await service.pharmacies_for(session=session, principal=principal, prescription_id=prescription_id)


@router.post(ONE + "/fulfilment", response_model=PrescriptionOut)
async def choose_fulfilment(
    prescription_id: RecordId,
    body: FulfilmentIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> PrescriptionOut:
    return await service.choose_fulfilment(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        data=body,
        courier=couriers.courier_for(settings),
    )


@router.get(ONE + "/pickup-code.svg")
async def pickup_qr(prescription_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """The pickup code as a QR code (SVG) for the pharmacy's scanner; only the patient sees it."""
    view = await service.get(session=session, principal=principal, prescription_id=prescription_id)
    code = view.fulfilment.pickup_code if view.fulfilment else None
    if code is None:
        return Response(status_code=404)
    # A stand-alone SVG document (with its namespace): an <img> draws nothing from an inline fragment.
    out = io.BytesIO()
    segno.make(f"REGIO-RX:{view.id}:{code}", error="m").save(
        out, kind="svg", scale=6, border=2, xmldecl=False
    )
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.post("/api/care/dispensing/pickup", response_model=PrescriptionOut)
async def pickup(body: PickupIn, session: SessionDep, principal: CurrentPrincipal) -> PrescriptionOut:
    return await service.pickup(
        session=session, principal=principal, pharmacy_id=body.pharmacy_id, code=body.code
    )


@router.post("/api/care/couriers/{courier_name}/events", dependencies=[Public])
async def courier_event(
    courier_name: CourierName,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=400)] = None,
) -> dict[str, Any]:
    """A courier's signed status report (no sign-in: the HMAC signature is the credential)."""
    return await service.courier_event(
        session=session,
        settings=settings,
        courier_name=courier_name,
        body=await request.body(),
        signature=signature,
    )
