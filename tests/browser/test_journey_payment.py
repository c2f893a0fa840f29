"""The whole journey on a phone, paid for: 张伟 books dr_chen for his mother 李秀英 and pays the consultation
after seeing the insurance split (she is an insured employee with hypertension as a chronic disease, so
the fund pays part); the booking is confirmed by the payment; dr_chen sees her and prescribes amlodipine;
the pharmacist approves it; 张伟 has it delivered, pays the drugs and the delivery fee on the demo
checkout, follows the delivery on the prescription and finds her lab report."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from regio.care.prescription.demo import DEMO_SIGNING_PIN
from regio.care.prescription.enums import DELIVERY_LABELS
from tests.browser.demo_api import held_booking, login, start_consultation, token

pytestmark = pytest.mark.browser

ORDER_PAGE = re.compile(r"/care/payments/\d+(\?.*)?$")


def _booking_status(live_server: str, appointment: int) -> str:
    answer = httpx.get(
        f"{live_server}/api/care/appointments/{appointment}",
        headers=token(live_server, "zhangwei"),
        timeout=30,
    )
    return str(answer.json()["status"])


def _consultation_started(live_server: str, appointment: int) -> int:
    consultation = start_consultation(live_server, appointment)
    doctor = token(live_server, "dr_chen")
    added = httpx.post(
        f"{live_server}/api/care/consultations/{consultation}/record/diagnoses",
        json={"code": "I10"},
        headers=doctor,
        timeout=30,
    )
    assert added.status_code in (200, 201), added.text
    return consultation


def _approved(live_server: str, prescription: int) -> None:
    pharmacist = token(live_server, "pharm_wang")
    for step in ("claim", "approve"):
        answer = httpx.post(
            f"{live_server}/api/care/prescriptions/{prescription}/{step}", headers=pharmacist, timeout=30
        )
        assert answer.status_code == 200, answer.text


async def _click_and_reload(page: Any, selector: str) -> None:
    async with page.expect_navigation():
        await page.click(selector)
    await page.wait_for_load_state()


async def _fits_the_phone(page: Any) -> bool:
    """Nothing sticks out sideways on a 390 px screen."""
    return bool(await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


async def _yuan(page: Any, selector: str) -> Decimal:
    text = await page.inner_text(selector)
    found = re.search(r"\d+\.\d{2}", text)
    assert found is not None, text
    return Decimal(found.group(0))


async def _pay(page: Any) -> bool:
    """Taps 确认支付; what the insurer leaves to the patient is paid on the demo checkout. True when the
    demo checkout was needed."""
    await page.click("#pay")
    await page.wait_for_url(re.compile(r"/care/payments/\d+(/pay|\?notice=paid)$"))
    if not page.url.endswith("/pay"):
        assert "支付成功" in await page.inner_text("#notice")
        return False
    await page.click("#simulate")
    await page.locator("#pay-done").wait_for(state="visible")
    assert "支付成功" in await page.inner_text("#pay-result")
    return True


async def test_a_family_books_pays_is_seen_prescribed_pays_the_drugs_and_reads_a_report_on_a_phone(
    live_server_any: str, phone: Any
) -> None:
    live_server = live_server_any  # the same journey on SQLite and on PostgreSQL
    appointment = held_booking(live_server)

    # the son: the preview asks whether it is a chronic-disease follow-up; hypertension it is
    await login(phone, live_server, "zhangwei")
    await phone.goto(f"{live_server}/care/payments/new?appointment_id={appointment}")
    assert "复诊" in await phone.inner_text("#visit-type")
    await phone.click("#condition-choice a.condition-option[data-code='I10']")
    await phone.wait_for_url(ORDER_PAGE)
    assert "待支付" in await phone.inner_text("#order-status")
    total, fund = await _yuan(phone, "#total"), await _yuan(phone, "#fund")
    account, own = await _yuan(phone, "#account"), await _yuan(phone, "#out-of-pocket")
    assert fund > 0 and total == fund + account + own  # the fund pays its part, the shares add up
    assert "门诊慢特病" in await phone.inner_text("#lines")
    assert "浙江" in await phone.inner_text("#policy")
    assert await _fits_the_phone(phone)
    await _pay(phone)

    # paying confirmed the booking (nobody called confirm)
    assert _booking_status(live_server, appointment) == "confirmed"
    await phone.goto(f"{live_server}/care/payments")
    order = phone.locator("li.order[data-kind='consultation']").first
    assert await order.get_attribute("data-status") == "paid"

    # the doctor sees her, diagnoses I10 and prescribes amlodipine 5 mg once a day for 7 days
    consultation = _consultation_started(live_server, appointment)
    await login(phone, live_server, "dr_chen")
    await phone.goto(f"{live_server}/care/consultations/{consultation}/prescribe")
    line = phone.locator("#lines .rx-line").first
    await line.locator(".drug-search").fill("氨氯地平")
    option = line.locator(".drug-option", has_text="氨氯地平").first
    await option.wait_for()
    await option.click()
    await line.locator(".dose").fill("5")
    await line.locator(".route").select_option("po")
    await line.locator(".frequency").select_option("qd")
    await line.locator(".days").fill("7")
    await line.locator(".quantity").fill("1")
    await phone.click("#save")
    await phone.locator("#findings").wait_for(state="visible")
    for reason in await phone.locator("#findings-list .override-reason").all():
        await reason.fill("已评估：获益大于风险，嘱监测血压")
    await phone.fill("#sign-pin", DEMO_SIGNING_PIN)
    await _click_and_reload(phone, "#sign")
    item = phone.locator("#written-list li.rx-item").first
    prescription = int(await item.get_attribute("data-prescription-id"))
    _approved(live_server, prescription)

    # the son: home delivery from a pharmacy that delivers and has it in stock
    await login(phone, live_server, "zhangwei")
    await phone.goto(f"{live_server}/care/prescriptions/{prescription}")
    await (
        phone.locator("label.pharmacy-option[data-stock='1']", has_text="可配送")
        .first.locator("input")
        .check()
    )
    await phone.check("#method-delivery")
    await phone.fill("#recipient-name", "张伟")
    await phone.fill("#recipient-phone", "13800000000")
    await phone.fill("#recipient-address", "杭州市西湖区文三路 100 号 1 单元 101 室")
    await _click_and_reload(phone, "#choose")
    assert "支付药费后" in await phone.inner_text("#payment-due")
    await phone.click("#to-pay")
    await phone.wait_for_url(ORDER_PAGE)
    assert "配送费" in await phone.inner_text("#items tr.item[data-kind='delivery']")
    assert await _yuan(phone, "#out-of-pocket") > 0  # the delivery fee is never insured
    assert await _pay(phone), "the delivery fee should have been paid on the demo checkout"
    await _click_and_reload(phone, "#to-prescription")

    # the delivery is booked once paid (by the outbox): the prescription shows where it is
    labels = {zh for zh, _ in DELIVERY_LABELS.values()}
    status = ""
    for _ in range(40):
        status = (await phone.inner_text("#delivery-status")).strip()
        if any(label in status for label in labels):
            break
        await asyncio.sleep(0.5)
        await phone.reload()
    assert any(label in status for label in labels), status

    # and her lab report is there to read
    await phone.goto(f"{live_server}/care/reports")
    assert await phone.locator(".report-item").count() >= 1
    assert "血常规" in await phone.inner_text("main")
    assert await _fits_the_phone(phone)
