"""On a phone, the demo doctor writes a diagnosis found by searching the ICD-10 list and signs the record;
the patient then finds it among their records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.demo_api import consultation_in_progress, login

pytestmark = pytest.mark.browser


async def test_the_doctor_finds_a_diagnosis_by_search_and_signs(live_server: str, phone: Any) -> None:
    consultation = consultation_in_progress(live_server)
    await login(phone, live_server, "dr_chen")
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
    await login(phone, live_server, "zhangwei")
    await phone.goto(f"{live_server}/care/records")
    item = phone.locator(f".history-item[data-consultation-id='{consultation}']")
    assert "I10" in await item.inner_text()
    await item.locator("a.button").click()
    await phone.wait_for_load_state()
    assert "低盐饮食" in await phone.inner_text("#record-advice")
