"""The spill-over page in Chromium on a phone: sign in as an officer, ask the river model, read the list."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser, chromium_path  # noqa: F401  (the shared Chromium fixtures)

pytestmark = pytest.mark.browser


async def test_an_officer_on_a_phone_sees_nanjings_flood_reach_yangzhou_first(
    browser,  # noqa: F811
    live_server: str,
) -> None:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    try:
        await page.goto(f"{live_server}/login?next=/risk/spillover")
        await page.fill("input[name=username]", "hz_officer")
        await page.fill("input[name=password]", "regio-demo-2026")
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url(f"{live_server}/risk/spillover")
        await page.select_option("#model", "river")
        await page.fill("#origin", "320100")
        await page.click("#run")
        await page.wait_for_selector("#affected tbody tr")
        rows = page.locator("#affected tbody tr")
        first = await rows.nth(0).inner_text()
        assert "扬州市" in first and "小时" in first
        codes = await rows.evaluate_all("rows => rows.map(r => r.dataset.adcode)")
        assert "320100" not in codes and codes.index("321100") < codes.index("310100")  # Zhenjiang, Shanghai
        # the page fits the phone: nothing to scroll sideways
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
    finally:
        await context.close()
