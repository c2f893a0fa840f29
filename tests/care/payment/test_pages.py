"""The payment pages: the preview before paying, an order with its insurance split, the demo checkout,
my orders with refunds and cancelling, my family's insurance, the reconciliation download, and the
"去支付" link on the booking page."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regio.care.booking import service as booking_service
from regio.care.payment import gateways, service
from regio.care.payment.pages import chronic_condition, yuan
from regio.care.payment.schemas import OrderIn, OrderOut
from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.booking.conftest import PatientUser, World, build_world, patients_for, shift_for
from tests.factories import make_user, token_headers

HTML = {"Accept": "text/html"}


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)  # a 三级甲等 hospital in Hangzhou: Zhejiang's policy applies


@pytest.fixture
async def patient(db: Database, settings: Settings) -> PatientUser:
    return (await patients_for(db, settings, 1))[0]


def _headers(settings: Settings, who: PatientUser) -> dict[str, str]:
    return {**HTML, **token_headers(settings, who.user)}


async def _held(db: Database, settings: Settings, world: World, patient: PatientUser) -> int:
    shift = await shift_for(db, world)
    async with db.session() as session:
        booked = await booking_service.book(
            session=session,
            settings=settings,
            principal=patient.principal,
            slot_id=shift.slots[0].id,
            patient_id=patient.patient_id,
        )
    return booked.id


async def _enrol(
    db: Database, patient: PatientUser, *, chronic: list[str], account_fen: int, scheme: str = "employee"
) -> None:
    """The insurer's record of the patient (the balance is the insurer's figure, not the patient's)."""
    from tests.care.payment.conftest import enrol

    await enrol(db, patient.patient_id, scheme=scheme, chronic=chronic, account=account_fen)


async def _order(db: Database, settings: Settings, patient: PatientUser, appointment_id: int) -> OrderOut:
    async with db.session() as session:
        return await service.create_order(
            session=session,
            principal=patient.principal,
            data=OrderIn(appointment_id=appointment_id, condition="I10"),
            settings=settings,
        )


async def _paid(db: Database, settings: Settings, patient: PatientUser, order_id: int) -> OrderOut:
    gateway = gateways.gateway_for(settings)
    async with db.session() as session:
        started = await service.pay(
            session=session,
            principal=patient.principal,
            order_id=order_id,
            settings=settings,
            gateway=gateway,
        )
    assert started.status == "pending" and started.pay_url == f"/care/payments/{order_id}/pay"
    async with db.session() as session:
        return await service.simulate_payment(
            session=session,
            principal=patient.principal,
            order_id=order_id,
            settings=settings,
            gateway=gateway,
        )


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_money_is_shown_as_yuan_with_two_decimals_exactly(fen: int) -> None:
    shown = yuan(fen)
    assert re.fullmatch(r"-?\d+\.\d{2}", shown)
    assert Decimal(shown) * 100 == fen


def test_a_prescription_is_settled_under_the_first_chronic_disease_it_treats() -> None:
    assert chronic_condition(["J06.9", "I10", "E11.9"], ["E11", "I10"]) == "I10"
    assert chronic_condition(["E11.9"], ["E11"]) == "E11"
    assert chronic_condition(["J06.9"], ["I10"]) is None
    assert chronic_condition(["I10"], []) is None


async def test_the_booking_page_offers_to_pay_a_held_booking(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    appointment = await _held(db, settings, world, patient)
    page = await client.get("/booking", headers=_headers(settings, patient))
    assert page.status_code == 200
    assert f'href="/care/payments/new?appointment_id={appointment}"' in page.text and "去支付" in page.text


async def test_the_preview_asks_about_a_registered_chronic_disease_before_the_order_is_made(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    appointment = await _held(db, settings, world, patient)
    await _enrol(db, patient, chronic=["I10"], account_fen=0)
    headers = _headers(settings, patient)

    asked = await client.get(f"/care/payments/new?appointment_id={appointment}", headers=headers)
    assert asked.status_code == 200
    assert 'id="condition-choice"' in asked.text and 'id="order-creator"' not in asked.text
    assert f"appointment_id={appointment}&amp;visit_type=follow_up&amp;condition=I10" in asked.text
    assert "高血压" in asked.text and "否，普通复诊" in asked.text and "复诊" in asked.text
    # nothing is ordered by looking
    async with db.session() as session:
        assert await service.list_orders(session=session, principal=patient.principal) == []

    chosen = await client.get(
        f"/care/payments/new?appointment_id={appointment}&visit_type=follow_up&condition=I10", headers=headers
    )
    creator = re.search(r'<article class="card stack" id="order-creator"(.*?)>', chosen.text, re.S)
    assert creator is not None
    assert f'data-appointment-id="{appointment}"' in creator.group(1)
    assert 'data-condition="I10"' in creator.group(1) and 'data-visit-type="follow_up"' in creator.group(1)
    assert 'data-csrf="' in chosen.text and "/static/payment/payment.js" in chosen.text

    ordinary = await client.get(
        f"/care/payments/new?appointment_id={appointment}&condition=none", headers=headers
    )
    assert 'data-condition=""' in ordinary.text and 'id="condition-choice"' not in ordinary.text


async def test_an_uninsured_patient_is_told_the_bill_is_self_paid_and_strangers_see_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    appointment = await _held(db, settings, world, patient)
    page = await client.get(
        f"/care/payments/new?appointment_id={appointment}", headers=_headers(settings, patient)
    )
    assert page.status_code == 200
    assert 'id="not-insured"' in page.text and 'id="order-creator"' in page.text
    stranger = (await patients_for(db, settings, 1))[0]
    refused = await client.get(
        f"/care/payments/new?appointment_id={appointment}", headers=_headers(settings, stranger)
    )
    assert refused.status_code == 404
    neither = await client.get("/care/payments/new", headers=_headers(settings, patient))
    assert neither.status_code == 404


async def test_the_order_shows_the_split_with_one_rule_per_item_and_the_policy(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    appointment = await _held(db, settings, world, patient)
    await _enrol(db, patient, chronic=["I10"], account_fen=0)
    order = await _order(db, settings, patient, appointment)
    assert order.fund_fen > 0 and order.out_of_pocket_fen > 0  # the chronic terms: the fund pays its ratio

    page = await client.get(
        f"/care/payments/{order.id}?visit_type=follow_up", headers=_headers(settings, patient)
    )
    assert page.status_code == 200
    assert "待支付" in page.text and 'id="pay"' in page.text and "确认支付" in page.text
    for element, fen in (
        ("total", order.total_fen),
        ("fund", order.fund_fen),
        ("account", order.personal_account_fen),
        ("out-of-pocket", order.out_of_pocket_fen),
    ):
        shown = re.search(rf'id="{element}">(?:<strong>)?([0-9.]+) 元', page.text)
        assert shown is not None and Decimal(shown.group(1)) * 100 == fen, element
    assert "统筹基金" in page.text and "个人账户" in page.text and "个人自付" in page.text
    assert page.text.count('<li class="line"') == len(order.items) == len(order.lines)
    assert order.lines[0].rule_zh in page.text
    assert order.policy is not None and order.policy.name_zh in page.text and "依据：" in page.text
    assert 'id="visit-type">复诊' in page.text

    english = await client.get(f"/care/payments/{order.id}?lang=en", headers=_headers(settings, patient))
    assert "Insurance fund" in english.text and order.lines[0].rule_en in english.text

    stranger = (await patients_for(db, settings, 1))[0]
    assert (
        await client.get(f"/care/payments/{order.id}", headers=_headers(settings, stranger))
    ).status_code == 404


async def test_the_demo_checkout_takes_the_patients_share_and_leads_back_to_the_booking(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    appointment = await _held(db, settings, world, patient)
    await _enrol(db, patient, chronic=["I10"], account_fen=0)
    order = await _order(db, settings, patient, appointment)
    headers = _headers(settings, patient)
    gateway = gateways.gateway_for(settings)
    async with db.session() as session:
        started = await service.pay(
            session=session,
            principal=patient.principal,
            order_id=order.id,
            settings=settings,
            gateway=gateway,
        )
    checkout = await client.get(f"/care/payments/{order.id}/pay", headers=headers)
    assert checkout.status_code == 200
    assert f'id="amount">{yuan(started.out_of_pocket_fen)} 元' in checkout.text
    assert "确认支付（演示）" in checkout.text and 'id="simulate"' in checkout.text
    assert re.search(r'id="pay-done"\s+hidden', checkout.text)

    async with db.session() as session:
        await service.simulate_payment(
            session=session,
            principal=patient.principal,
            order_id=order.id,
            settings=settings,
            gateway=gateway,
        )
    done = await client.get(f"/care/payments/{order.id}/pay", headers=headers)
    assert 'id="simulate"' not in done.text and not re.search(r'id="pay-done"\s+hidden', done.text)
    assert 'href="/booking"' in done.text and "支付成功" in done.text
    paid = await client.get(f"/care/payments/{order.id}", headers=headers)
    assert 'id="paid"' in paid.text and 'id="pay"' not in paid.text and 'id="to-booking"' in paid.text
    async with db.session() as session:
        booking = await booking_service.get_appointment(
            session=session, principal=patient.principal, appointment_id=appointment
        )
    assert booking.status == "confirmed"


async def test_my_orders_offer_to_cancel_a_paid_booking_and_then_show_the_refund(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    headers = _headers(settings, patient)
    empty = await client.get("/care/payments", headers=headers)
    assert empty.status_code == 200 and 'id="no-orders"' in empty.text

    appointment = await _held(db, settings, world, patient)
    await _enrol(db, patient, chronic=["I10"], account_fen=0)
    order = await _order(db, settings, patient, appointment)
    pending = await client.get("/care/payments", headers=headers)
    item = pending.text.split(f'data-order-id="{order.id}"', 1)[1].split("</li>\n    \n", 1)[0]
    assert 'data-status="pending"' in pending.text and "去支付" in item and "cancel-booking" not in item

    await _paid(db, settings, patient, order.id)
    listed = await client.get("/care/payments", headers=headers)
    assert 'data-status="paid"' in listed.text and "已支付" in listed.text
    assert f'<button type="button" class="danger cancel-booking" data-order-id="{order.id}">' in listed.text
    assert f"统筹基金 {yuan(order.fund_fen)}" in listed.text

    async with db.session() as session:
        back = await service.cancel_booking_and_refund(
            session=session, settings=settings, principal=patient.principal, order_id=order.id
        )
    assert back.status == "refunded"
    refunded = await client.get("/care/payments?notice=cancelled", headers=headers)
    assert "已退款" in refunded.text and 'class="refund"' in refunded.text
    assert "cancel-booking" not in refunded.text and "款项将原路退回" in refunded.text


async def test_the_family_insurance_page_shows_each_person_with_a_form_in_yuan(
    client: httpx.AsyncClient, db: Database, settings: Settings, patient: PatientUser
) -> None:
    headers = _headers(settings, patient)
    blank = await client.get("/care/insurance", headers=headers)
    assert blank.status_code == 200
    assert f'data-patient-id="{patient.patient_id}" data-enrolled="0"' in blank.text
    assert '<option value="330000" selected>' in blank.text and "未登记" in blank.text

    await _enrol(db, patient, chronic=["I10", "E11"], account_fen=92_000)
    page = await client.get("/care/insurance", headers=headers)
    assert f'data-patient-id="{patient.patient_id}" data-enrolled="1"' in page.text
    assert 'value="I10,E11"' in page.text and "920.00" in page.text  # the balance is shown, not editable
    assert 'name="account"' not in page.text
    assert '<option value="employee" selected>' in page.text and "职工医保" in page.text
    for code in ("350000", "110000", "other"):
        assert f'<option value="{code}"' in page.text


async def test_the_reconciliation_page_is_for_hospital_admins_with_their_hospital_filled_in(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    grant = RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(world.hospital_id))
    admin = await make_user(db, roles=[grant])
    page = await client.get(
        "/care/payments/reconciliation", headers={**HTML, **token_headers(settings, admin)}
    )
    assert page.status_code == 200
    assert (
        f'name="hospital_id" id="hospital-id" inputmode="numeric" pattern="[0-9]+" required value="{world.hospital_id}"'
        in page.text
    )
    assert 'action="/api/care/payments/reconciliation.csv"' in page.text
    assert f"/api/care/payments/reconciliation.csv?hospital_id={world.hospital_id}&amp;day=" in page.text

    refused = await client.get("/care/payments/reconciliation", headers=_headers(settings, patient))
    assert refused.status_code == 403 and "对账报表仅向本院管理员开放" in refused.text


async def test_the_preview_script_can_find_the_open_order_when_one_exists(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, patient: PatientUser
) -> None:
    # new.html's script relies on this answer: a second order names the open one in its details
    appointment = await _held(db, settings, world, patient)
    headers = token_headers(settings, patient.user)
    first = await client.post(
        "/api/care/payments/orders", json={"appointment_id": appointment}, headers=headers
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        "/api/care/payments/orders", json={"appointment_id": appointment}, headers=headers
    )
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "already_ordered" and error["details"]["order_id"] == first.json()["id"]
