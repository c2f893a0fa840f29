"""JSON routes of insurance (enrolment, preview), orders, payment, refunds, the gateway's signed
notifications and the daily reconciliation CSV. Thin: parse, call the service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from regio.care.payment import gateways, handlers, service
from regio.care.payment.schemas import (
    EnrolmentIn,
    EnrolmentOut,
    FeeIn,
    FeeOut,
    OrderIn,
    OrderOut,
    PreviewIn,
    PreviewOut,
    PriceIn,
    RefundIn,
)
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep, SettingsDep, public_route
from regio.core.webhooks import SIGNATURE_HEADER

router = APIRouter(tags=["payment"])

ORDER = "/api/care/payments/orders/{order_id}"
Public = Depends(public_route)
GatewayName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]

# Imported for its registrations (the lapse job and outbox handlers) when the routes are.
__all__ = ["handlers", "router"]


@router.post("/api/care/insurance/preview", response_model=PreviewOut)
async def preview(body: PreviewIn, session: SessionDep, principal: CurrentPrincipal) -> PreviewOut:
    return await service.preview(session=session, principal=principal, data=body)


@router.get("/api/care/insurance/enrolments/{patient_id}", response_model=EnrolmentOut | None)
async def get_enrolment(
    patient_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> EnrolmentOut | None:
    return await service.get_enrolment(session=session, principal=principal, patient_id=patient_id)


@router.put("/api/care/insurance/enrolments/{patient_id}", response_model=EnrolmentOut)
async def save_enrolment(
    patient_id: RecordId, body: EnrolmentIn, session: SessionDep, principal: CurrentPrincipal
) -> EnrolmentOut:
    return await service.save_enrolment(
        session=session, principal=principal, patient_id=patient_id, data=body
    )


@router.post("/api/care/payments/orders", status_code=201, response_model=OrderOut)
async def create_order(
    body: OrderIn, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> OrderOut:
    return await service.create_order(session=session, principal=principal, data=body, settings=settings)


@router.get("/api/care/payments/orders", response_model=list[OrderOut])
async def list_orders(session: SessionDep, principal: CurrentPrincipal) -> list[OrderOut]:
    return await service.list_orders(session=session, principal=principal)


@router.get(ORDER, response_model=OrderOut)
async def get_order(order_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> OrderOut:
    return await service.get_order(session=session, principal=principal, order_id=order_id)


@router.post(ORDER + "/pay", response_model=OrderOut)
async def pay(
    order_id: RecordId, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> OrderOut:
    return await service.pay(
        session=session,
        principal=principal,
        order_id=order_id,
        settings=settings,
        gateway=gateways.gateway_for(settings),
    )


@router.post(ORDER + "/simulate-payment", response_model=OrderOut)
async def simulate_payment(
    order_id: RecordId, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> OrderOut:
    """Development and tests only (the in-memory gateway): completes the payment as a gateway would."""
    return await service.simulate_payment(
        session=session,
        principal=principal,
        order_id=order_id,
        settings=settings,
        gateway=gateways.gateway_for(settings),
    )


@router.post(ORDER + "/refund", response_model=OrderOut)
async def refund(
    order_id: RecordId, body: RefundIn, session: SessionDep, principal: CurrentPrincipal
) -> OrderOut:
    return await service.refund(
        session=session,
        principal=principal,
        order_id=order_id,
        amount_fen=body.amount_fen,
        reason=body.reason,
    )


@router.post(ORDER + "/cancel-booking", response_model=OrderOut)
async def cancel_booking(
    order_id: RecordId, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> OrderOut:
    return await service.cancel_booking_and_refund(
        session=session, settings=settings, principal=principal, order_id=order_id
    )


@router.get("/api/care/payments/fees", response_model=list[FeeOut])
async def list_fees(
    session: SessionDep, principal: CurrentPrincipal, hospital_id: Annotated[int, Query(ge=1, le=2**63 - 1)]
) -> list[FeeOut]:
    return await service.list_fees(session=session, principal=principal, hospital_id=hospital_id)


@router.put("/api/care/payments/fees", response_model=FeeOut)
async def set_fee(body: FeeIn, session: SessionDep, principal: CurrentPrincipal) -> FeeOut:
    return await service.set_fee(session=session, principal=principal, data=body)


@router.put("/api/care/payments/prices", response_model=PriceIn)
async def set_price(body: PriceIn, session: SessionDep, principal: CurrentPrincipal) -> PriceIn:
    return await service.set_price(session=session, principal=principal, data=body)


@router.get("/api/care/payments/reconciliation.csv")
async def reconciliation(
    session: SessionDep,
    principal: CurrentPrincipal,
    hospital_id: Annotated[int, Query(ge=1, le=2**63 - 1)],
    day: Annotated[date, Query()],
) -> Response:
    content = await service.reconciliation_csv(
        session=session, principal=principal, hospital_id=hospital_id, day=day
    )
    filename = f"regio-reconciliation-{hospital_id}-{day:%Y%m%d}.csv"
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.post("/api/care/payments/gateways/{gateway_name}/notify", dependencies=[Public])
async def notify(
    gateway_name: GatewayName,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=400)] = None,
) -> dict[str, Any]:
    """The gateway's signed report (no sign-in: the HMAC signature is the credential)."""
    return await service.notify(
        session=session,
        settings=settings,
        gateway_name=gateway_name,
        body=await request.body(),
        signature=signature,
    )
