"""Pickup or delivery of approved prescriptions: stock is taken by the database, the courier is booked once,
and its signed status reports move a delivery forward only — repeats and stale reports change nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from regio.care.prescription import errors, service
from regio.care.prescription.couriers import MemoryCourier, event_body
from regio.care.prescription.models import Fulfilment, Stock
from regio.care.prescription.schemas import FulfilmentIn
from regio.config import Settings
from regio.core import webhooks
from regio.core.db import Database
from regio.core.errors import DomainError
from tests.care.prescription.conftest import MakeDraft, Setting, mark_paid
from tests.care.prescription.test_flow import approve, sign_as_doctor


async def approved(db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft) -> int:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    await approve(db, setting, prescription_id)
    return prescription_id


async def deliver_to_door(
    db: Database, setting: Setting, prescription_id: int, courier: MemoryCourier
) -> str:
    async with db.session() as session:
        await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(
                pharmacy_id=setting.pharmacy_id,
                method="delivery",
                recipient_name="张三",
                recipient_phone="13900000000",
                address="杭州市西湖区测试路 8 号",
            ),
            courier=courier,
        )
    with pytest.raises(errors.PaymentRequired):  # nothing leaves the pharmacy unpaid
        await service.book_shipment(db=db, prescription_id=prescription_id, courier=courier)
    await mark_paid(db, prescription_id)
    tracking = await service.book_shipment(db=db, prescription_id=prescription_id, courier=courier)
    assert tracking is not None
    return tracking


def _signed(settings: Settings, body: bytes, *, at: float | None = None) -> dict[str, str]:
    return {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=settings.webhook_secret, timestamp=at)}


async def _report(
    client: httpx.AsyncClient,
    settings: Settings,
    tracking: str,
    status: str,
    when: datetime,
    event_id: str,
    *,
    signed_at: float | None = None,
) -> httpx.Response:
    body = event_body(event_id=event_id, tracking_id=tracking, status=status, occurred_at=when)
    headers = _signed(settings, body, at=signed_at)
    return await client.post("/api/care/couriers/memory/events", content=body, headers=headers)


async def test_courier_reports_move_a_delivery_forward_only_and_once(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    courier = MemoryCourier()
    tracking = await deliver_to_door(db, setting, prescription_id, courier)
    # booking again (an outbox retry) keeps the one shipment
    assert await service.book_shipment(db=db, prescription_id=prescription_id, courier=courier) == tracking
    assert len(courier.shipments) == 1

    start = datetime.now(UTC) - timedelta(hours=1)
    accepted = await _report(client, settings, tracking, "accepted", start, "e1")
    assert accepted.status_code == 200 and accepted.json()["applied"] is True
    picked = await _report(client, settings, tracking, "picked_up", start + timedelta(minutes=5), "e2")
    assert picked.json()["applied"] is True
    # the courier sends the same event again, signed anew (a retry, not a replay of the same bytes)
    again = await _report(
        client, settings, tracking, "picked_up", start + timedelta(minutes=5), "e2", signed_at=time.time() + 1
    )
    assert again.status_code == 200 and again.json() == {"applied": False, "reason": "repeated"}
    delivered = await _report(client, settings, tracking, "delivered", start + timedelta(minutes=40), "e3")
    assert delivered.json()["applied"] is True
    late = await _report(client, settings, tracking, "in_transit", start + timedelta(minutes=20), "e4")
    assert late.json() == {"applied": False, "reason": "stale"}

    async with db.session() as session:
        view = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert view.status == "dispensed" and view.dispense is not None and view.dispense.method == "delivery"
    assert view.fulfilment is not None and view.fulfilment.delivery_status == "delivered"
    assert [e.status for e in view.fulfilment.events if e.applied] == ["accepted", "picked_up", "delivered"]


async def test_a_bad_or_replayed_courier_signature_is_refused_and_logged(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    setting: Setting,
    make_draft: MakeDraft,
    caplog: pytest.LogCaptureFixture,
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    tracking = await deliver_to_door(db, setting, prescription_id, MemoryCourier())
    body = event_body(event_id="x1", tracking_id=tracking, status="accepted", occurred_at=datetime.now(UTC))
    forged = {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret="not-the-secret")}
    with caplog.at_level(logging.WARNING, logger="regio.prescription"):
        refused = await client.post("/api/care/couriers/memory/events", content=body, headers=forged)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "webhook_bad_signature"
    assert any("refused" in record.getMessage() for record in caplog.records)
    headers = _signed(settings, body)
    first = await client.post("/api/care/couriers/memory/events", content=body, headers=headers)
    replay = await client.post("/api/care/couriers/memory/events", content=body, headers=headers)
    assert first.status_code == 200 and replay.status_code == 409
    stale_sig = _signed(settings, body, at=datetime.now(UTC).timestamp() - 3600)
    assert (
        await client.post("/api/care/couriers/memory/events", content=body, headers=stale_sig)
    ).status_code == 401
    junk = b'{"event_id": 5}'
    malformed = await client.post(
        "/api/care/couriers/memory/events", content=junk, headers=_signed(settings, junk)
    )
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "bad_courier_event"


async def test_the_last_box_goes_to_one_patient_when_two_choose_at_once(
    db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    first = await approved(db, setting, settings, make_draft)
    second = await approved(db, setting, settings, make_draft)
    async with db.session() as session, session.begin():
        stock = await session.scalar(
            select(Stock).where(
                Stock.pharmacy_id == setting.pharmacy_id, Stock.drug_code == setting.catalog["amlodipine"]
            )
        )
        assert stock is not None
        stock.quantity = 1

    async def choose(prescription_id: int) -> object:
        async with db.session() as session:
            try:
                return await service.choose_fulfilment(
                    session=session,
                    principal=setting.patient.principal,
                    prescription_id=prescription_id,
                    data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
                    courier=MemoryCourier(),
                )
            except DomainError as exc:
                return exc

    results = await asyncio.gather(choose(first), choose(second))
    assert sum(isinstance(r, errors.OutOfStock) for r in results) == 1
    async with db.session() as session:
        left = await session.scalar(
            select(Stock.quantity).where(
                Stock.pharmacy_id == setting.pharmacy_id, Stock.drug_code == setting.catalog["amlodipine"]
            )
        )
        fulfilments = (await session.scalars(select(Fulfilment))).all()
    assert left == 0 and len(fulfilments) == 1


async def test_delivery_needs_an_address_and_a_pickup_code_works_only_at_its_pharmacy(
    db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    with pytest.raises(errors.AddressRequired):
        async with db.session() as session:
            await service.choose_fulfilment(
                session=session,
                principal=setting.patient.principal,
                prescription_id=prescription_id,
                data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="delivery"),
                courier=MemoryCourier(),
            )
    async with db.session() as session:
        chosen = await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
            courier=MemoryCourier(),
        )
    assert chosen.fulfilment is not None and chosen.fulfilment.pickup_code is None
    await mark_paid(db, prescription_id)
    async with db.session() as session:
        chosen = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert chosen.fulfilment is not None and chosen.fulfilment.pickup_code
    with pytest.raises(errors.FulfilmentChosen):
        async with db.session() as session:
            await service.choose_fulfilment(
                session=session,
                principal=setting.patient.principal,
                prescription_id=prescription_id,
                data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
                courier=MemoryCourier(),
            )
    with pytest.raises(errors.NotThisPharmacy):
        async with db.session() as session:
            await service.pickup(
                session=session,
                principal=setting.patient.principal,
                pharmacy_id=setting.pharmacy_id,
                code=chosen.fulfilment.pickup_code,
            )


async def test_the_http_courier_posts_a_signed_shipment_and_reads_its_tracking_id(settings: Settings) -> None:
    from regio.care.prescription.couriers import CourierFailed, HttpCourier, ShipmentRequest

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["Idempotency-Key"] == "rx-broken":
            return httpx.Response(200, json={"no": "tracking"})
        return httpx.Response(201, json={"tracking_id": "SF1234567890"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    courier = HttpCourier("https://courier.example/shipments", secret=settings.webhook_secret, client=client)
    request = ShipmentRequest(
        reference="rx-7",
        pickup_name="药房",
        pickup_address="杭州",
        pickup_phone="0571",
        recipient_name="张三",
        recipient_phone="13900000000",
        address="杭州市西湖区",
        cold_chain=True,
        items=2,
    )
    assert await courier.create_shipment(request) == "SF1234567890"
    [sent] = seen
    webhooks.check_signature(
        sent.content,
        sent.headers[webhooks.SIGNATURE_HEADER],
        secret=settings.webhook_secret,
        tolerance_seconds=60,
    )
    assert b'"cold_chain":true' in sent.content and "张三".encode() in sent.content
    with pytest.raises(CourierFailed):
        await courier.create_shipment(dataclasses.replace(request, reference="rx-broken"))
    await courier.aclose()


async def test_a_cold_chain_item_is_delivered_only_by_a_pharmacy_that_keeps_the_cold_chain(
    db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    from regio.care.prescription.catalog import shipped_catalog
    from tests.care.prescription.conftest import amlodipine_line

    insulin = next(d for d in shipped_catalog() if d.cold_chain and d.dose_unit == "IU")
    prescription_id = await make_draft(
        amlodipine_line(setting, drug_code=insulin.code, dose=10, dose_unit="IU", route="sc")
    )
    await sign_as_doctor(
        db, setting, settings, prescription_id, overrides=await _major_reasons(db, setting, prescription_id)
    )
    await approve(db, setting, prescription_id)
    with pytest.raises(errors.DeliveryUnavailable):
        await deliver_to_door(db, setting, prescription_id, MemoryCourier())


async def _major_reasons(db: Database, setting: Setting, prescription_id: int) -> dict[str, str]:
    async with db.session() as session:
        view = await service.get(
            session=session, principal=setting.world.doctor, prescription_id=prescription_id
        )
    return {f.key: "医生确认" for f in view.findings if f.severity == "major"}


async def test_a_retail_pharmacys_own_pharmacist_dispenses_there_and_only_there(
    db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    from regio.care.prescription.models import Pharmacy
    from regio.core.access import Role, RoleGrant, ScopeKind
    from tests.factories import make_user, principal_for

    async with db.session() as session, session.begin():
        shop = Pharmacy(
            name="零售药店", kind="retail", region_adcode="330000", address="杭州", delivers=False
        )
        session.add(shop)
        await session.flush()
        session.add(Stock(pharmacy_id=shop.id, drug_code=setting.catalog["amlodipine"], quantity=3))
        shop_id = shop.id
    grant = RoleGrant(Role.pharmacist, ScopeKind.pharmacy, str(shop_id))
    clerk = principal_for(await make_user(db, roles=[grant]), [grant])
    prescription_id = await approved(db, setting, settings, make_draft)
    async with db.session() as session:
        options = await service.pharmacies_for(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert shop_id in {p.id for p in options if p.has_stock}
    async with db.session() as session:
        chosen = await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(pharmacy_id=shop_id, method="pickup"),
            courier=MemoryCourier(),
        )
    await mark_paid(db, prescription_id)
    async with db.session() as session:
        chosen = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert chosen.fulfilment is not None and chosen.fulfilment.pickup_code is not None
    with pytest.raises(errors.NotThisPharmacy):
        async with db.session() as session:
            await service.pickup(
                session=session,
                principal=clerk,
                pharmacy_id=setting.pharmacy_id,
                code=chosen.fulfilment.pickup_code,
            )
    with pytest.raises(errors.PickupCodeInvalid):  # the hospital's pharmacist at the hospital's pharmacy
        async with db.session() as session:
            await service.pickup(
                session=session,
                principal=setting.pharmacist,
                pharmacy_id=setting.pharmacy_id,
                code=chosen.fulfilment.pickup_code,
            )
    async with db.session() as session:
        done = await service.pickup(
            session=session, principal=clerk, pharmacy_id=shop_id, code=chosen.fulfilment.pickup_code
        )
    assert done.status == "dispensed" and done.dispense is not None and done.dispense.pharmacy_id == shop_id
    bundle = service.fhir_bundle(done)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds == ["MedicationRequest", "MedicationDispense"]
    assert bundle["entry"][1]["resource"]["status"] == "completed"
