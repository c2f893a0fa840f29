"""On a phone, the demo doctor writes a diagnosis found by searching the ICD-10 list and signs the record;
the patient then finds it among their records."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from regio.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def _token(live_server: str, username: str) -> dict[str, str]:
    answer = httpx.post(
        f"{live_server}/api/auth/token", json={"username": username, "password": DEMO_PASSWORD}, timeout=30
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _consultation_in_progress(live_server: str) -> int:
    """李秀英 (hypertension on the demo hospital's records) books dr_chen, and he starts the consultation."""
    patient, doctor = _token(live_server, "zhangwei"), _token(live_server, "dr_chen")
    family = httpx.get(f"{live_server}/api/care/patients", headers=patient, timeout=30).json()["items"]
    mother = next(item["patient"]["id"] for item in family if item["patient"]["name"] == "李秀英")
    schedule = httpx.get(f"{live_server}/api/care/doctor/schedule", headers=doctor, timeout=30).json()
    # the latest days first: other browser tests book the nearer ones
    slots = [
        slot for shift in reversed(schedule["shifts"]) for slot in shift["slots"] if slot["remaining"] > 0
    ]
    for slot in slots:
        booked = httpx.post(
            f"{live_server}/api/care/appointments",
            json={"slot_id": slot["id"], "patient_id": mother},
            headers=patient,
            timeout=30,
        )
        if booked.status_code == 201:
            break
    else:
        raise AssertionError("no bookable slot of dr_chen in the demo")
    appointment = booked.json()["id"]
    confirmed = httpx.post(
        f"{live_server}/api/care/appointments/{appointment}/confirm", headers=patient, timeout=30
    )
    assert confirmed.status_code == 200, confirmed.text
    opened = httpx.post(
        f"{live_server}/api/care/consultations",
        json={"appointment_id": appointment},
        headers=patient,
        timeout=30,
    )
    assert opened.status_code in (200, 201), opened.text
    consultation = int(opened.json()["id"])
    started = httpx.post(
        f"{live_server}/api/care/consultations/{consultation}/start", headers=doctor, timeout=30
    )
    assert started.status_code == 200, started.text
    return consultation


async def _login(page: Any, live_server: str, username: str) -> None:
    await page.goto(f"{live_server}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_load_state()


async def test_the_doctor_finds_a_diagnosis_by_search_and_signs(live_server: str, phone: Any) -> None:
    consultation = _consultation_in_progress(live_server)
    await _login(phone, live_server, "dr_chen")
    await phone.goto(f"{live_server}/care/consultations/{consultation}/record")
    assert "未书写" in await phone.inner_text("#record-status")
    assert await phone.locator("#priors tr.prior").count() >= 1  # the hospital's offline diagnoses

    # typing part of the Chinese name offers the matching codes; picking one fills the field
    await phone.fill("#icd-search", "原发性高血压")
    option = phone.locator("#icd-results button.icd-option[data-code='I10']")
    await option.wait_for()
    await option.click()
    assert await phone.input_value("#icd-search") == "I10"
    await phone.click("#add-diagnosis")
    await phone.wait_for_load_state()
    assert "诊断已添加" in await phone.inner_text("#notice")
    diagnosis = phone.locator("#diagnoses li.diagnosis[data-code='I10']")
    assert "复诊" in await diagnosis.inner_text()

    # a condition never diagnosed offline is refused with the rule it breaks
    await phone.fill("#icd-search", "J45.9")
    await phone.click("#add-diagnosis")
    await phone.wait_for_load_state()
    assert "互联网诊疗管理办法" in await phone.inner_text("#error")

    await phone.fill("#notes", "高血压复诊，血压 138/86 mmHg，无不适。")
    await phone.fill("#advice", "继续原方案，低盐饮食，两周后复诊。")
    await phone.click("#save-draft")
    await phone.wait_for_load_state()
    await phone.click("#sign")
    await phone.wait_for_load_state()
    assert "病历已签名并锁定" in await phone.inner_text("#notice")
    assert "已签名" in await phone.inner_text("#record-status")
    assert await phone.locator("#sign").count() == 0 and await phone.locator("#icd-search").count() == 0
    assert "I10" in await phone.inner_text("#signed-diagnoses")

    # the patient's side finds the signed record in their history
    await phone.context.clear_cookies()
    await _login(phone, live_server, "zhangwei")
    await phone.goto(f"{live_server}/care/records")
    item = phone.locator(f".history-item[data-consultation-id='{consultation}']")
    assert "I10" in await item.inner_text()
    await item.locator("a.button").click()
    await phone.wait_for_load_state()
    assert "低盐饮食" in await phone.inner_text("#record-advice")
