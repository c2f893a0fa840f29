"""Paying for an approved prescription: the drugs at the chosen pharmacy's prices plus delivery, split by
insurance; only once paid does the pickup code show or the courier get booked."""

from __future__ import annotations

import httpx
import pytest

from regio.care.payment import errors as payment_errors
from regio.care.payment import gateways, repository
from regio.care.payment import service as payment_service
from regio.care.payment.schemas import OrderIn
from regio.care.prescription import service
from regio.care.prescription.couriers import MemoryCourier
from regio.care.prescription.schemas import FulfilmentIn
from regio.config import Settings
from regio.core.db import Database, utcnow
from tests.care.prescription.conftest import MakeDraft, Setting
from tests.care.prescription.test_delivery import approved


async def _choose(db: Database, setting: Setting, prescription_id: int, method: str) -> None:
    extra = (
        {"recipient_name": "张三", "recipient_phone": "13900000000", "address": "杭州"}
        if method == "delivery"
        else {}
    )
    async with db.session() as session:
        await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method=method, **extra),  # type: ignore[arg-type]
            courier=MemoryCourier(),
        )


async def test_drugs_and_delivery_are_priced_split_and_paid_then_released(
    db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    await _choose(db, setting, prescription_id, "delivery")
    async with db.session() as session, session.begin():
        await repository.set_drug_price(session, setting.pharmacy_id, setting.catalog["amlodipine"], 1234)
        await repository.save_enrolment(
            session,
            {
                "patient_id": setting.patient.patient_id,
                "region_adcode": "330000",
                "scheme": "employee",
                "chronic_diseases": ["I10"],
                "personal_account_fen": 0,
                "updated_by_user_id": None,
                "updated_at": utcnow(),
            },
        )
    async with db.session() as session:
        order = await payment_service.create_order(
            session=session,
            principal=setting.patient.principal,
            data=OrderIn(prescription_id=prescription_id, condition="I10"),
            settings=settings,
        )
    kinds = {item.kind: item.amount_fen for item in order.items}
    assert kinds == {"drug": 1234, "delivery": settings.delivery_fee_fen}
    assert order.total_fen == 1234 + settings.delivery_fee_fen
    assert order.fund_fen + order.personal_account_fen + order.out_of_pocket_fen == order.total_fen
    delivery_line = next(line for line in order.lines if line.kind == "delivery")
    assert delivery_line.fund == 0  # delivery is never paid by the fund
    gateway = gateways.MemoryGateway()
    async with db.session() as session:
        started = await payment_service.pay(
            session=session,
            principal=setting.patient.principal,
            order_id=order.id,
            settings=settings,
            gateway=gateway,
        )
    async with db.session() as session:
        before = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert started.status == "pending" and before.paid_at is None
    async with db.session() as session:
        done = await payment_service.simulate_payment(
            session=session,
            principal=setting.patient.principal,
            order_id=order.id,
            settings=settings,
            gateway=gateway,
        )
    assert done.status == "paid"
    async with db.session() as session:
        after = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert after.paid_at is not None
    tracking = await service.book_shipment(db=db, prescription_id=prescription_id, courier=MemoryCourier())
    assert tracking is not None


async def test_a_pharmacy_without_a_price_cannot_take_the_order(
    db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    await _choose(db, setting, prescription_id, "pickup")
    with pytest.raises(payment_errors.PriceMissing):
        async with db.session() as session:
            await payment_service.create_order(
                session=session,
                principal=setting.patient.principal,
                data=OrderIn(prescription_id=prescription_id),
                settings=settings,
            )


async def test_a_pharmacys_staff_set_its_prices_and_nobody_else(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting
) -> None:
    from tests.factories import token_headers

    body = {
        "pharmacy_id": setting.pharmacy_id,
        "drug_code": setting.catalog["amlodipine"],
        "unit_price_fen": 880,
    }
    patient = await client.put(
        "/api/care/payments/prices", json=body, headers=token_headers(settings, setting.patient.user)
    )
    assert patient.status_code == 403
    pharmacist_user = await _user_of(db, setting)
    staff = token_headers(settings, pharmacist_user)
    assert (await client.put("/api/care/payments/prices", json=body, headers=staff)).status_code == 200
    unknown = await client.put(
        "/api/care/payments/prices", json={**body, "drug_code": "ZZ999"}, headers=staff
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_drug"
    async with db.session() as session:
        prices = await repository.drug_prices(session, setting.pharmacy_id, [setting.catalog["amlodipine"]])
    assert prices == {setting.catalog["amlodipine"]: 880}


async def _user_of(db: Database, setting: Setting) -> object:
    from regio.core.identity.models import User

    async with db.session() as session:
        return await session.get(User, setting.pharmacist.user_id)
