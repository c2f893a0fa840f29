"""The report form in Chromium on a phone: an officer reports a circle hazard and lands on its page with the map."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import browser, chromium_path, phone

pytestmark = pytest.mark.browser
PASSWORD = "regio-demo-2026"
__all__ = ["browser", "chromium_path", "phone"]


async def test_an_officer_reports_from_a_phone_and_sees_the_report_with_its_map(
    phone, live_server: str
) -> None:  # type: ignore[no-untyped-def]
    page = phone
    await page.goto(f"{live_server}/login?next=/risk/events/new")
    await page.fill("input[name=username]", "hz_officer")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{live_server}/risk/events/new")
    # a risk shows the four colour levels, not the grades
    assert await page.is_visible("#level-choice") and not await page.is_visible("#grade-choice")
    await page.check("input[name=kind][value=event]")
    assert await page.is_visible("#grade-choice") and not await page.is_visible("#level-choice")
    await page.check("input[name=kind][value=risk]")
    await page.check("input[name=warning_level][value='1']")
    await page.check("input[name=area_mode][value=circle]")
    assert not await page.is_visible("#adcodes")
    await page.fill("#lat", "30.245")
    await page.fill("#lon", "120.14")
    await page.fill("#radius", "6")
    await page.fill("#description", "西湖景区短时强降水，积水严重")
    # the form fits the phone: nothing wider than the screen
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.click("#submit-report")
    await page.wait_for_url(re.compile(r".*/risk/events/\d+$"))
    assert "杭州市暴雨红色预警" in await page.inner_text("h1")
    assert await page.locator("#event-map path.hazard").count() == 1
    assert await page.locator("#event-map path.jurisdiction").count() >= 1
    assert await page.locator("#versions li").count() == 1
    assert await page.is_visible("#cap-download")
