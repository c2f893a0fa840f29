"""On a phone, without typing a single address: the patient walks from the home page through triage to a
quick question, and the doctor on round-the-clock fever duty finds it from his home page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from regio.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

QUESTION = "发烧两天，最高38.6度，需要吃什么药？"
DEMO_HOSPITAL = "浙江大学医学院附属第一医院"  # dr_chen's hospital in the demo


async def _sign_in(page: Any, live_server: str, username: str) -> None:
    await page.goto(f"{live_server}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_load_state()


async def test_patient_from_home_through_triage_to_a_prefilled_quick_question_and_the_doctor_sees_it(
    live_server: str, phone: Any, browser: Any
) -> None:
    await _sign_in(phone, live_server, "zhangwei")
    await phone.goto(live_server)  # the home page: from here on, only taps
    await phone.get_by_role("link", name=re.compile("智能分诊")).click()
    await phone.wait_for_url(f"{live_server}/care/triage")
    await phone.fill("#age", "38")
    await phone.check("#sex-male")
    await phone.fill("#temperature_c", "38.6")
    await phone.fill("#fever_days", "2")
    await phone.click("#triage-submit")
    await phone.wait_for_url(re.compile(r".*/care/triage/\d+$"))
    triage_id = phone.url.rsplit("/", 1)[1]
    department = await phone.locator("#result-card").get_attribute("data-department")
    assert department == "fever_clinic"

    await phone.click("#to-quick")
    await phone.wait_for_url(re.compile(r".*/care/consultations/quick\?"))
    form = phone.locator("#quick-form")
    assert await form.locator("select[name=department_code]").input_value() == department
    assert await form.locator("input[name=triage_assessment_id]").input_value() == triage_id
    await form.locator("select[name=hospital_id]").select_option(label=DEMO_HOSPITAL)
    await form.locator("textarea[name=text]").fill(QUESTION)
    await form.locator("button[type=submit]").click()
    await phone.wait_for_url(re.compile(r".*/care/consultations\?notice=asked"))
    assert await phone.locator("#questions .question", has_text=QUESTION[:20]).count() == 1

    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True
    )
    try:
        doctor = await context.new_page()
        await _sign_in(doctor, live_server, "dr_chen")
        await doctor.goto(live_server)
        await doctor.get_by_role("link", name=re.compile("接诊工作台")).click()
        await doctor.wait_for_url(f"{live_server}/care/consultations/workbench")
        # the demo keeps dr_chen on fever-clinic duty day and night, so this holds at any hour
        assert await doctor.locator("form.offer", has_text=QUESTION[:20]).count() == 1
    finally:
        await context.close()
