"""Orders end to end over the service and the gateway's signed notifications: a paid hold becomes a
booking, each share is settled once, repeats change nothing, and refunds give each share back."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from sqlalchemy import select

from regio.care.booking.models import Appointment
from regio.care.payment import errors, gateways, repository, service
from regio.care.payment.models import InsuranceYear, Order
from regio.config import Settings
from regio.core import webhooks
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.payment.conftest import MakeHeld, enrol, order_for, pay
from tests.factories import make_user, token_headers


async def _appointment_status(db: Database, appointment_id: int) -> str:
    async with db.session() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        return row.status


def _notification(
    settings: Settings, reference: str, amount: int, *, event: str, status: str = "paid"
) -> tuple[bytes, dict[str, str]]:
    body = gateways.notification_body(event_id=event, reference=reference, status=status, amount_fen=amount)
    return body, {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=settings.webhook_secret)}


async def test_an_uninsured_patient_pays_everything_and_the_paid_hold_becomes_a_booking(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    order = await order_for(db, settings, held)
    assert order.total_fen == 2500 and order.out_of_pocket_fen == 2500 and order.fund_fen == 0
    gateway = gateways.MemoryGateway()
    started = await pay(db, settings, held, order.id, gateway)
    assert started.status == "pending" and started.settled and gateway.payments[order.reference] == 2500
    assert await _appointment_status(db, held.appointment_id) == "held"

    body, headers = _notification(settings, order.reference, 2500, event="evt-1")
    answer = await client.post("/api/care/payments/gateways/memory/notify", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"applied": True, "outcome": "paid"}
    assert await _appointment_status(db, held.appointment_id) == "confirmed"
    # the gateway sends the same event again, signed anew: nothing changes
    body, _ = _notification(settings, order.reference, 2500, event="evt-1")
    again_headers = {
        webhooks.SIGNATURE_HEADER: webhooks.sign(
            body, secret=settings.webhook_secret, timestamp=int(__import__("time").time()) + 1
        )
    }
    again = await client.post(
        "/api/care/payments/gateways/memory/notify", content=body, headers=again_headers
    )
    assert again.json() == {"applied": False, "outcome": "repeated"}


async def test_a_bad_signature_is_refused_and_logged_and_changes_nothing(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_held: MakeHeld,
    caplog: pytest.LogCaptureFixture,
) -> None:
    held = await make_held()
    order = await order_for(db, settings, held)
    await pay(db, settings, held, order.id, gateways.MemoryGateway())
    body = gateways.notification_body(
        event_id="forged", reference=order.reference, status="paid", amount_fen=2500
    )
    forged = {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret="guessed")}
    with caplog.at_level(logging.WARNING, logger="regio.payment"):
        answer = await client.post("/api/care/payments/gateways/memory/notify", content=body, headers=forged)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "webhook_bad_signature"
    assert any("refused" in record.getMessage() for record in caplog.records)
    assert await _appointment_status(db, held.appointment_id) == "held"


async def test_a_payment_of_another_amount_is_recorded_not_applied(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    order = await order_for(db, settings, held)
    await pay(db, settings, held, order.id, gateways.MemoryGateway())
    body, headers = _notification(settings, order.reference, 1, event="short")
    answer = await client.post("/api/care/payments/gateways/memory/notify", content=body, headers=headers)
    assert answer.json() == {"applied": False, "outcome": "amount_mismatch"}
    assert await _appointment_status(db, held.appointment_id) == "held"


async def test_a_chronic_follow_up_is_settled_by_the_fund_and_the_personal_account_at_once(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    await enrol(db, held.patient.patient_id, chronic=["I10"], account=50_000)
    order = await order_for(db, settings, held, condition="I10")
    assert (
        order.fund_fen > 0 and order.fund_fen + order.personal_account_fen + order.out_of_pocket_fen == 2500
    )
    paid = await pay(db, settings, held, order.id, gateways.MemoryGateway())
    assert paid.status == "paid" and paid.out_of_pocket_fen == 0
    assert await _appointment_status(db, held.appointment_id) == "confirmed"
    async with db.session() as session:
        year = await session.scalar(
            select(InsuranceYear).where(InsuranceYear.patient_id == held.patient.patient_id)
        )
        enrolment = await repository.enrolment(session, held.patient.patient_id)
    assert year is not None and year.fund_paid_fen == paid.fund_fen
    assert enrolment is not None and enrolment.personal_account_fen == 50_000 - paid.personal_account_fen


async def test_a_failed_payment_gives_the_insurers_shares_back(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    await enrol(db, held.patient.patient_id)  # no account: the patient's share goes through the gateway
    order = await order_for(db, settings, held)
    started = await pay(db, settings, held, order.id, gateways.MemoryGateway())
    body, headers = _notification(
        settings, order.reference, started.out_of_pocket_fen, event="fail-1", status="failed"
    )
    answer = await client.post("/api/care/payments/gateways/memory/notify", content=body, headers=headers)
    assert answer.json() == {"applied": True, "outcome": "failed"}
    async with db.session() as session:
        year = await session.scalar(
            select(InsuranceYear).where(InsuranceYear.patient_id == held.patient.patient_id)
        )
    assert year is not None and year.fund_paid_fen == 0 and year.deductible_used_fen == 0


async def test_refunds_in_parts_never_give_back_more_than_each_share_paid(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    await enrol(db, held.patient.patient_id, chronic=["I10"], account=100)
    order = await order_for(db, settings, held, condition="I10")
    gateway = gateways.MemoryGateway()
    started = await pay(db, settings, held, order.id, gateway)
    assert started.status == "pending" and started.out_of_pocket_fen > 0  # the account holds only 1 yuan
    async with db.session() as session:
        paid = await service.simulate_payment(
            session=session,
            principal=held.patient.principal,
            order_id=order.id,
            settings=settings,
            gateway=gateway,
        )
    assert paid.status == "paid" and paid.fund_fen > 0 and paid.personal_account_fen == 100
    staff = await make_user(
        db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(held.world.hospital_id))]
    )
    from tests.factories import principal_for

    admin = principal_for(
        staff, [RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(held.world.hospital_id))]
    )
    with pytest.raises(errors.RefundForbidden):
        async with db.session() as session:
            await service.refund(
                session=session,
                principal=held.patient.principal,
                order_id=order.id,
                amount_fen=100,
                reason="x",
            )
    async with db.session() as session:
        part = await service.refund(
            session=session, principal=admin, order_id=order.id, amount_fen=999, reason="部分退款"
        )
    assert part.status == "partially_refunded" and part.refunded_fen == 999
    with pytest.raises(errors.RefundTooLarge):
        async with db.session() as session:
            await service.refund(
                session=session, principal=admin, order_id=order.id, amount_fen=2500, reason="太多"
            )
    async with db.session() as session:
        rest = await service.refund(
            session=session, principal=admin, order_id=order.id, amount_fen=None, reason="余额"
        )
    assert rest.status == "refunded" and rest.refunded_fen == rest.total_fen
    assert sum(r.fund_fen for r in rest.refunds) == rest.fund_fen
    assert sum(r.personal_account_fen for r in rest.refunds) == rest.personal_account_fen
    assert sum(r.out_of_pocket_fen for r in rest.refunds) == rest.out_of_pocket_fen
    async with db.session() as session:
        year = await session.scalar(
            select(InsuranceYear).where(InsuranceYear.patient_id == held.patient.patient_id)
        )
        enrolment = await repository.enrolment(session, held.patient.patient_id)
    assert year is not None and year.fund_paid_fen == 0 and year.deductible_used_fen == 0
    assert enrolment is not None and enrolment.personal_account_fen == 100


async def test_two_orders_of_one_person_settled_at_once_count_the_deductible_once(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    first = await make_held()
    await enrol(db, first.patient.patient_id)
    second = await make_held(patient=first.patient, days_ahead=2)  # one booking per doctor and day
    orders = [await order_for(db, settings, held) for held in (first, second)]

    async def settle(held: object, order_id: int) -> object:
        return await pay(db, settings, held, order_id, gateways.MemoryGateway())  # type: ignore[arg-type]

    await asyncio.gather(*(settle(h, o.id) for h, o in zip((first, second), orders, strict=True)))
    async with db.session() as session:
        year = await session.scalar(
            select(InsuranceYear).where(InsuranceYear.patient_id == first.patient.patient_id)
        )
        settled = (
            await session.scalars(select(Order).where(Order.patient_id == first.patient.patient_id))
        ).all()
    assert year is not None
    assert year.deductible_used_fen == sum(o.deductible_applied_fen for o in settled)
    assert year.fund_paid_fen == sum(o.fund_fen for o in settled)


async def test_an_unpaid_order_lapses_and_gives_its_settlement_back(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    from datetime import timedelta

    from regio.core.db import utcnow

    held = await make_held()
    await enrol(db, held.patient.patient_id)
    order = await order_for(db, settings, held)
    await pay(db, settings, held, order.id, gateways.MemoryGateway())
    assert await service.lapse_orders(db=db, settings=settings, now=utcnow() + timedelta(days=1)) == 1
    async with db.session() as session:
        row = await session.get(Order, order.id)
        year = await session.scalar(
            select(InsuranceYear).where(InsuranceYear.patient_id == held.patient.patient_id)
        )
    assert row is not None and row.status == "expired"
    assert year is not None and year.deductible_used_fen == 0 and year.fund_paid_fen == 0


async def test_one_live_order_per_booking_and_only_for_your_own(
    db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    held = await make_held()
    await order_for(db, settings, held)
    with pytest.raises(errors.AlreadyOrdered):
        await order_for(db, settings, held)
    stranger = await make_held()
    with pytest.raises(errors.NothingToPay):
        async with db.session() as session:
            from regio.care.payment.schemas import OrderIn

            await service.create_order(
                session=session,
                principal=stranger.patient.principal,
                data=OrderIn(appointment_id=held.appointment_id),
                settings=settings,
            )


async def test_the_reconciliation_csv_has_a_bom_and_totals_by_share(
    client: httpx.AsyncClient, db: Database, settings: Settings, make_held: MakeHeld
) -> None:
    import csv
    import io

    from regio.care.records.policies import shanghai_day
    from regio.core.db import utcnow

    held = await make_held()
    await enrol(db, held.patient.patient_id, chronic=["I10"], account=50_000)
    order = await order_for(db, settings, held, condition="I10")
    paid = await pay(db, settings, held, order.id, gateways.MemoryGateway())
    staff = await make_user(
        db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(held.world.hospital_id))]
    )
    params = {"hospital_id": held.world.hospital_id, "day": shanghai_day(utcnow()).isoformat()}
    answer = await client.get(
        "/api/care/payments/reconciliation.csv", params=params, headers=token_headers(settings, staff)
    )
    assert answer.status_code == 200 and answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][0] == "类型 type"
    [order_row] = [row for row in rows if row[1] == paid.reference]
    assert order_row[6] == f"{paid.fund_fen // 100}.{paid.fund_fen % 100:02d}"
    net = next(row for row in rows if row[0] == "净额 net")
    assert net[5] == f"{paid.total_fen // 100}.{paid.total_fen % 100:02d}"
    refused = await client.get(
        "/api/care/payments/reconciliation.csv",
        params=params,
        headers=token_headers(settings, held.patient.user),
    )
    assert refused.status_code == 403
