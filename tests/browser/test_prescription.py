"""On a phone, the demo doctor writes amlodipine for 李秀英's hypertension, checks it and signs it with his
PIN; the demo pharmacist claims and approves it; her son picks the hospital pharmacy, pays for the drugs
and gets a pickup code with its QR code; the pharmacist enters the code and dispenses."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from regio.care.prescription.demo import DEMO_SIGNING_PIN
from tests.browser.demo_api import consultation_in_progress, login, token

pytestmark = pytest.mark.browser


def _diagnose_hypertension(live_server: str, consultation: int) -> dict[str, Any]:
    """dr_chen records I10 in the consultation; returns amlodipine as the catalog has it."""
    doctor = token(live_server, "dr_chen")
    added = httpx.post(
        f"{live_server}/api/care/consultations/{consultation}/record/diagnoses",
        json={"code": "I10"},
        headers=doctor,
        timeout=30,
    )
    assert added.status_code in (200, 201), added.text
    found = httpx.get(f"{live_server}/api/care/drugs", params={"q": "氨氯地平"}, headers=doctor, timeout=30)
    return next(drug for drug in found.json() if drug["name_zh"] == "氨氯地平")


def _pharmacy_chosen(live_server: str, prescription: int) -> int:
    answer = httpx.get(
        f"{live_server}/api/care/prescriptions/{prescription}",
        headers=token(live_server, "zhangwei"),
        timeout=30,
    )
    return int(answer.json()["fulfilment"]["pharmacy"]["id"])


async def _click_and_reload(page: Any, selector: str) -> None:
    async with page.expect_navigation():
        await page.click(selector)
    await page.wait_for_load_state()


async def _pay(page: Any) -> None:
    """Taps 确认支付 on an order; what the insurer leaves to the patient is paid on the demo checkout."""
    await page.click("#pay")
    await page.wait_for_url(re.compile(r"/care/payments/\d+(/pay|\?notice=paid)$"))
    if page.url.endswith("/pay"):
        await page.click("#simulate")
        await page.locator("#pay-done").wait_for(state="visible")
    assert "支付成功" in await page.inner_text("#pay-result" if page.url.endswith("/pay") else "#notice")


async def _fits_the_phone(page: Any) -> bool:
    """Nothing sticks out sideways on a 390 px screen."""
    return bool(await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


async def _image_width(page: Any, selector: str) -> int:
    await page.wait_for_function(
        "(selector) => { const img = document.querySelector(selector); return img && img.complete; }",
        arg=selector,
    )
    return int(await page.eval_on_selector(selector, "img => img.naturalWidth"))


async def test_a_prescription_is_written_signed_reviewed_chosen_and_dispensed_on_a_phone(
    live_server_any: str, phone: Any
) -> None:
    live_server = live_server_any  # the same flow on SQLite and on PostgreSQL
    consultation = consultation_in_progress(live_server)
    amlodipine = _diagnose_hypertension(live_server, consultation)

    # the doctor: from the room to the prescribing screen, a drug found by its Chinese name
    await login(phone, live_server, "dr_chen")
    await phone.goto(f"{live_server}/care/consultations/{consultation}")
    await _click_and_reload(phone, "#to-prescribe")
    assert await phone.locator("#key-setup").count() == 0  # the demo gives dr_chen a signing key
    line = phone.locator("#lines .rx-line").first
    await line.locator(".drug-search").fill("氨氯地平")
    option = line.locator(f".drug-option[data-code='{amlodipine['code']}']")
    await option.wait_for()
    await option.click()
    assert "氨氯地平" in await line.locator(".drug-chosen").inner_text()
    assert await line.locator(".dose-unit").input_value() == amlodipine["dose_unit"] == "mg"
    await line.locator(".dose").fill("5")
    await line.locator(".route").select_option("po")
    await line.locator(".frequency").select_option("qd")
    await line.locator(".days").fill("7")
    await line.locator(".quantity").fill("1")
    await phone.click("#save")
    await phone.locator("#findings").wait_for(state="visible")
    assert await _fits_the_phone(phone)
    assert "草稿" in await phone.inner_text("#editing-badge")
    assert await phone.locator("#findings-list li.sev-contraindicated").count() == 0
    for reason in await phone.locator("#findings-list .override-reason").all():
        await reason.fill("已评估：获益大于风险，嘱监测血压")
    await phone.fill("#sign-pin", DEMO_SIGNING_PIN)
    await _click_and_reload(phone, "#sign")
    assert "已提交药师审方" in await phone.inner_text("#notice")
    item = phone.locator("#written-list li.rx-item").first
    assert "待审方" in await item.inner_text()
    prescription = int(await item.get_attribute("data-prescription-id"))

    # the pharmacist: the queue, the prescription, claim, approve
    await login(phone, live_server, "pharm_wang")
    await phone.goto(f"{live_server}/care/pharmacy/review")
    row = phone.locator(f"tr.queue-item[data-prescription-id='{prescription}']")
    assert "氨氯地平" in await row.inner_text()
    await _click_and_reload(phone, f"tr.queue-item[data-prescription-id='{prescription}'] a.button")
    assert "签名有效" in await phone.inner_text("#signature")
    assert "I10" in await phone.inner_text("#rx-diagnoses")
    await _click_and_reload(phone, "#claim")
    assert "审方中" in await phone.inner_text("#rx-status")
    await _click_and_reload(phone, "#approve")
    assert "审核通过" in await phone.inner_text("#rx-status")

    # the patient's son: a pharmacy with stock, pickup, the code and its QR code
    await login(phone, live_server, "zhangwei")
    await phone.goto(f"{live_server}/care/prescriptions")
    await _click_and_reload(phone, f".rx-item[data-prescription-id='{prescription}'] a.button")
    assert "每日一次" in await phone.inner_text("#rx-lines")
    stocked = phone.locator("label.pharmacy-option[data-stock='1'] input").first
    await stocked.check()
    await phone.check("#method-pickup")
    assert await _fits_the_phone(phone)
    await _click_and_reload(phone, "#choose")
    # the pickup code comes only once the drugs are paid for
    assert await phone.locator("#pickup-code").count() == 0
    assert "支付药费后" in await phone.inner_text("#payment-due")
    await phone.click("#to-pay")
    await phone.wait_for_url(re.compile(r"/care/payments/\d+(\?.*)?$"))
    assert "统筹基金" in await phone.inner_text("#split")
    assert await phone.locator("#items tr.item[data-kind='drug']").count() == 1
    await _pay(phone)
    await _click_and_reload(phone, "#to-prescription")
    code = (await phone.inner_text("#pickup-code")).strip()
    assert re.fullmatch(r"\d{8}", code), code
    qr_width = await _image_width(phone, "#pickup-qr")

    # the pharmacist hands it over at that pharmacy with the code
    pharmacy = _pharmacy_chosen(live_server, prescription)
    await login(phone, live_server, "pharm_wang")
    await phone.goto(f"{live_server}/care/pharmacy/pickup?pharmacy_id={pharmacy}")
    await phone.fill("#pickup-code-input", code)
    await phone.click("#dispense")
    await phone.locator("#dispensed").wait_for()
    assert "已发药" in await phone.inner_text("#dispensed")
    assert "氨氯地平" in await phone.inner_text("#dispensed-lines")
    # last, so that the steps after it are checked too: the QR code must be an image a browser draws
    assert qr_width > 0, "the pickup QR SVG did not render as an image (does it declare the SVG namespace?)"
