"""Two officers' dashboards in Chromium: Hangzhou reports a hazard over its border with Huzhou,
Huzhou's open dashboard shows the warning live, Huzhou acknowledges, and Hangzhou sees it."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.browser

PASSWORD = "regio-demo-2026"
# A CAP polygon ("lat,lon" pairs) across the border of Hangzhou and Huzhou
CAP_POLYGON = "30.35,119.85 30.60,119.85 30.60,120.15 30.35,120.15 30.35,119.85"
HEADLINE = "余杭—德清交界山体滑坡风险"


async def _dashboard(browser, live_server: str, username: str):  # type: ignore[no-untyped-def]
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True
    )
    page = await context.new_page()
    await page.goto(f"{live_server}/login?next=/risk/dashboard")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{live_server}/risk/dashboard")
    await page.wait_for_selector("#live-status[data-state=open]")
    return context, page


async def test_hangzhou_reports_huzhou_sees_it_live_acknowledges_and_hangzhou_sees_the_acknowledgement(
    browser, live_server: str
) -> None:
    hangzhou_context, hangzhou = await _dashboard(browser, live_server, "hz_officer")
    huzhou_context, huzhou = await _dashboard(browser, live_server, "huz_officer")
    try:
        async with httpx.AsyncClient(base_url=live_server, timeout=30) as api:
            token = (
                await api.post("/api/auth/token", json={"username": "hz_officer", "password": PASSWORD})
            ).json()
            reported = await api.post(
                "/api/risk/events",
                headers={"Authorization": f"Bearer {token['access_token']}"},
                json={
                    "category": "natural_disaster",
                    "event_type": "landslide",
                    "kind": "risk",
                    "warning_level": 2,
                    "certainty": "Likely",
                    "urgency": "Expected",
                    "origin_level": "prefecture",
                    "origin_adcode": "330100",
                    "area": {"cap_polygons": [CAP_POLYGON]},
                    "detected_at": "2026-11-30T08:00:00+08:00",
                    "headline": HEADLINE,
                },
            )
        assert reported.status_code == 201, reported.text
        assert "330500" in {a["adcode"] for a in reported.json()["affected"]}

        # Huzhou's open dashboard shows the warning without a reload
        incoming = huzhou.locator("#incoming li", has_text=HEADLINE)
        await incoming.wait_for(timeout=5000)
        assert "杭州市" in await incoming.inner_text()
        await incoming.locator(".ack-button").click()
        await huzhou.locator("#incoming li[data-ack-state=acknowledged]", has_text=HEADLINE).wait_for(
            timeout=5000
        )

        # and Hangzhou's shows Huzhou's acknowledgement, live
        acknowledged = hangzhou.locator("#outgoing li[data-ack-state=acknowledged]", has_text="湖州市")
        await acknowledged.wait_for(timeout=5000)
        assert "湖州市应急管理局" in await acknowledged.inner_text()
        # the map lights Hangzhou as the origin and Huzhou as affected
        await hangzhou.locator("#warnings-map path.j.origin").first.wait_for(timeout=5000)
        lit = await hangzhou.locator("#warnings-map path.j.affected").evaluate_all(
            "ps => ps.map(p => p.dataset.name)"
        )
        assert "湖州市" in lit
    finally:
        await hangzhou_context.close()
        await huzhou_context.close()
