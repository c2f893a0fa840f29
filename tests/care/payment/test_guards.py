"""What payment refuses: settling one order twice at once, confirming a hold with a fee unpaid, a patient
writing their own account balance, a notification signed with another partner's key or naming another
gateway, and dates no calendar of ours holds."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from regio.care.booking import errors as booking_errors
from regio.care.booking import service as booking_service
from regio.care.payment import gateways, repository
from regio.care.payment.models import InsuranceYear
from regio.config import Settings
from regio.core import webhooks
from regio.core.db import Database
from regio.core.errors import DomainError
from tests.care.payment.conftest import MakeHeld, enrol, order_for, pay
from tests.factories import token_headers


async def test_four_payments_of_one_order_at_once_settle_it_once(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    await enrol(db, held.patient.patient_id, chronic=["I10"], account=50_000)
    order = await order_for(db, settings, held, condition="I10")

    async def attempt() -> object:
        try:
            return await pay(db, settings, held, order.id, gateways.MemoryGateway())
        except DomainError as exc:
            return exc

    await asyncio.gather(*(attempt() for _ in range(4)))
    async with db.session() as session:
        year = await session.scalar(
            select(InsuranceYear).where(InsuranceYear.patient_id == held.patient.patient_id)
        )
        enrolment = await repository.enrolment(session, held.patient.patient_id)
        from regio.care.payment.models import Order

        row = await session.get(Order, order.id)
    assert row is not None and row.status == "paid"
    assert year is not None and year.fund_paid_fen == row.fund_fen
    assert enrolment is not None and enrolment.personal_account_fen == 50_000 - row.personal_account_fen


async def test_a_hold_with_a_fee_is_confirmed_by_paying_not_by_a_tap(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    strict = settings.model_copy(update={"booking_confirm_without_payment": False})
    with pytest.raises(booking_errors.PaymentRequired):
        async with db.session() as session:
            await booking_service.confirm(
                session=session,
                principal=held.patient.principal,
                appointment_id=held.appointment_id,
                settings=strict,
            )
    order = await order_for(db, settings, held)
    gateway = gateways.MemoryGateway()
    await pay(db, settings, held, order.id, gateway)
    from regio.care.payment import service

    async with db.session() as session:
        paid = await service.simulate_payment(
            session=session,
            principal=held.patient.principal,
            order_id=order.id,
            settings=settings,
            gateway=gateway,
        )
    assert paid.status == "paid"


async def test_a_patient_cannot_write_their_own_personal_account(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    await enrol(db, held.patient.patient_id, account=500)
    headers = token_headers(settings, held.patient.user)
    url = f"/api/care/insurance/enrolments/{held.patient.patient_id}"
    forged = await client.put(
        url,
        json={"region_adcode": "330000", "scheme": "employee", "personal_account_fen": 100_000_000},
        headers=headers,
    )
    assert forged.status_code == 422
    edited = await client.put(
        url,
        json={"region_adcode": "330000", "scheme": "employee", "chronic_diseases": ["I10"]},
        headers=headers,
    )
    assert edited.status_code == 200 and edited.json()["personal_account_fen"] == 500
    assert edited.json()["chronic_diseases"] == ["I10"]


async def test_a_notification_signed_with_the_webhook_key_is_refused_once_the_gateway_has_its_own(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    order = await order_for(db, settings, held)
    await pay(db, settings, held, order.id, gateways.MemoryGateway())
    own = "gateway-only-secret-" + "g" * 32
    client._transport.app.state.settings = settings.model_copy(update={"payment_gateway_secret": own})  # type: ignore[attr-defined]
    body = gateways.notification_body(
        event_id="x1", reference=order.reference, status="paid", amount_fen=2500
    )
    with_webhook_key = {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=settings.webhook_secret)}
    refused = await client.post(
        "/api/care/payments/gateways/memory/notify", content=body, headers=with_webhook_key
    )
    assert refused.status_code == 401
    other_gateway = {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=own)}
    wrong_name = await client.post(
        "/api/care/payments/gateways/alipay/notify", content=body, headers=other_gateway
    )
    assert wrong_name.status_code == 404
    accepted = await client.post(
        "/api/care/payments/gateways/memory/notify", content=body, headers=other_gateway
    )
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "paid"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_dates_out_of_any_calendar_we_keep_are_a_clear_422(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld, day: str
) -> None:
    from regio.core.access import Role, RoleGrant, ScopeKind
    from tests.factories import make_user

    held = await make_held()
    grant = RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(held.world.hospital_id))
    admin = await make_user(db, roles=[grant])
    headers = token_headers(settings, admin)
    csv_answer = await client.get(
        "/api/care/payments/reconciliation.csv",
        params={"hospital_id": held.world.hospital_id, "day": day},
        headers=headers,
    )
    assert csv_answer.status_code == 422 and csv_answer.json()["error"]["code"] == "date_out_of_range"
    stats = await client.get("/api/care/statistics", params={"from": day, "to": day}, headers=headers)
    assert stats.status_code == 422


async def test_a_paid_booking_cancelled_on_the_booking_page_is_refunded_through_the_outbox(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    from regio.care.booking.service import TOPIC_APPOINTMENT_ENDED
    from regio.care.payment import service
    from regio.core.outbox import OutboxMessage

    held = await make_held()
    order = await order_for(db, settings, held)
    gateway = gateways.MemoryGateway()
    await pay(db, settings, held, order.id, gateway)
    async with db.session() as session:
        await service.simulate_payment(
            session=session,
            principal=held.patient.principal,
            order_id=order.id,
            settings=settings,
            gateway=gateway,
        )
    async with db.session() as session:
        await booking_service.cancel(
            session=session,
            settings=settings,
            principal=held.patient.principal,
            appointment_id=held.appointment_id,
        )
    async with db.session() as session:
        messages = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == TOPIC_APPOINTMENT_ENDED))
        ).all()
    assert [m.payload["appointment_id"] for m in messages] == [held.appointment_id]
    assert await service.refund_cancelled_booking(db=db, appointment_id=held.appointment_id, by="patient")
    assert not await service.refund_cancelled_booking(db=db, appointment_id=held.appointment_id, by="patient")
    async with db.session() as session:
        refunded = await service.get_order(
            session=session, principal=held.patient.principal, order_id=order.id
        )
    assert refunded.status == "refunded" and refunded.refunded_fen == refunded.total_fen


async def test_a_hospitals_own_fee_prices_the_next_order_and_only_its_admins_set_it(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    from regio.core.access import Role, RoleGrant, ScopeKind
    from tests.factories import make_user

    held = await make_held()
    grant = RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(held.world.hospital_id))
    admin = await make_user(db, roles=[grant])
    async with db.session() as session:
        from regio.care.registry.models import Doctor

        doctor = await session.get(Doctor, held.world.doctor_id)
        assert doctor is not None
        title = doctor.title
    body = {"hospital_id": held.world.hospital_id, "mode": "text", "title": title, "amount_fen": 4321}
    refused = await client.put(
        "/api/care/payments/fees", json=body, headers=token_headers(settings, held.patient.user)
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "pricing_forbidden"
    saved = await client.put("/api/care/payments/fees", json=body, headers=token_headers(settings, admin))
    assert saved.status_code == 200 and saved.json()["source"] == "hospital"
    listed = await client.get(
        "/api/care/payments/fees",
        params={"hospital_id": held.world.hospital_id},
        headers=token_headers(settings, admin),
    )
    row = next(r for r in listed.json() if r["mode"] == "text" and r["title"] == title)
    assert row["amount_fen"] == 4321
    order = await order_for(db, settings, held)
    assert order.total_fen == 4321
