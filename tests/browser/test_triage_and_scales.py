"""On a phone, the demo patient triages a listless child to the red banner, then answers PHQ-9 and sees the hotlines."""

from __future__ import annotations

from typing import Any

import pytest

from regio.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


async def _sign_in(phone: Any, live_server: str) -> None:
    await phone.goto(f"{live_server}/login")
    await phone.fill("input[name=username]", "zhangwei")
    await phone.fill("input[name=password]", DEMO_PASSWORD)
    await phone.click("form button[type=submit]")
    await phone.wait_for_load_state()


async def test_triage_to_a_red_flag_and_phq9_item_9_shows_the_hotline(live_server: str, phone: Any) -> None:
    await _sign_in(phone, live_server)

    await phone.goto(f"{live_server}/care/triage")
    await phone.fill("#age", "4")
    await phone.check("#sex-female")
    await phone.fill("#temperature_c", "36.8")
    await phone.fill("#fever_days", "2")
    await phone.check("#symptom-lethargy")
    await phone.click("#triage-submit")
    await phone.wait_for_load_state()
    banner = phone.locator("#go-offline")
    assert await banner.is_visible()
    assert "立即前往急诊" in await banner.inner_text()
    assert "儿科" in await phone.inner_text("#result-department")
    assert await phone.locator("#to-booking").count() == 0

    await phone.goto(f"{live_server}/care/scales/phq9")
    crisis = phone.locator("#crisis-now")
    assert not await crisis.is_visible()
    for item in range(1, 9):
        card = phone.locator(f"#question-{item}")
        assert await card.is_visible()  # one question at a time
        await card.locator("label", has_text="完全不会").click()
    await phone.locator("#question-9 label", has_text="好几天").click()
    assert await crisis.is_visible()  # at once, before the answers are even sent
    assert "400-161-9995" in await crisis.inner_text()
    await phone.click("#scale-submit")
    await phone.wait_for_load_state()
    assert "400-161-9995" in await phone.inner_text("#crisis")
    assert "12356" in await phone.inner_text("#crisis")
    assert await phone.locator("#urgent-flag").is_visible()
    assert await phone.inner_text("#result-score") == "1"
