"""The risk map in Chromium: sign in as Hangzhou's officer, paste a hazard, see the affected cities named and lit."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# A CAP polygon ("lat,lon" pairs) over the border of Hangzhou and Huzhou
CAP_POLYGON = "30.35,119.85 30.60,119.85 30.60,120.15 30.35,120.15 30.35,119.85"


async def test_pasting_a_cap_polygon_highlights_and_names_the_matched_prefectures(
    browser, live_server: str
) -> None:
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    try:
        await page.goto(f"{live_server}/login?next=/risk/map")
        await page.fill("input[name=username]", "hz_officer")
        await page.fill("input[name=password]", "regio-demo-2026")
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url(f"{live_server}/risk/map")
        await page.wait_for_selector("#riskmap path.j.province")

        # the first view in a fresh tab: page, script, stylesheets and coarse provinces stay under 2 MB
        fresh = await context.new_page()
        responses = []
        fresh.on("response", lambda response: responses.append(response))
        await fresh.goto(f"{live_server}/risk/map")
        await fresh.wait_for_selector("#riskmap path.j.province")
        await fresh.wait_for_load_state("networkidle")
        first_view = [len(await response.body()) for response in responses if response.status == 200]
        assert len(first_view) >= 4 and sum(first_view) < 2 * 1024 * 1024
        await fresh.close()

        await page.fill("#hazard-text", CAP_POLYGON)
        await page.select_option("#hazard-level", "prefecture")
        await page.click("#match-button")
        await page.wait_for_selector("#matches li")
        names = await page.locator("#matches li").all_inner_texts()
        assert sorted(names) == ["杭州市", "湖州市"]
        lit = await page.locator("#riskmap path.j.hit").evaluate_all(
            "paths => paths.map(p => p.dataset.name)"
        )
        assert sorted(lit) == ["杭州市", "湖州市"]
        labels = await page.locator("#riskmap text.label").evaluate_all(
            "texts => texts.map(t => t.textContent)"
        )
        assert sorted(labels) == ["杭州市", "湖州市"]

        await page.fill("#hazard-text", '{"type": "Point", "coordinates": [120, 95]}')
        await page.click("#match-button")
        await page.wait_for_selector("#match-error:not([hidden])")
        assert "纬度" in await page.locator("#match-error").inner_text()
    finally:
        await context.close()
