"""The dashboard and responsibility pages: Chinese first, English on request, signed-in only."""

from __future__ import annotations

import httpx

from regio.config import Settings
from regio.core.db import Database
from tests.factories import browser_login
from tests.risk.warnings.conftest import (
    HANGZHOU,
    HUZHOU,
    journey,
    make_officer,
    officer_grant,
    reach,
    write_event,
)


async def test_the_dashboard_is_chinese_first_and_english_on_request(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    officer = await make_officer(db, officer_grant(HUZHOU))
    await browser_login(client, officer.user.username)
    page = await client.get("/risk/dashboard")
    assert page.status_code == 200
    assert (
        "预警工作台" in page.text
        and 'id="live-status"' in page.text
        and "/static/risk/warnings.js" in page.text
    )
    english = await client.get("/risk/dashboard?lang=en")
    assert "Warning dashboard" in english.text and "Acknowledge" in english.text


async def test_the_responsibility_page_and_its_api_speak_of_the_same_event(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db, origin=HANGZHOU)
    await journey(db, settings, event, reach(HUZHOU))
    officer = await make_officer(db, officer_grant(HUZHOU))
    await browser_login(client, officer.user.username)
    page = await client.get(f"/risk/events/{event.id}/responsibility")
    assert page.status_code == 200 and f'data-event-id="{event.id}"' in page.text and "责任清单" in page.text
    data = (await client.get(f"/api/risk/events/{event.id}/responsibility")).json()
    assert {p["name"] for p in data["parties"]} >= {"杭州市", "湖州市"}
    missing = await client.get("/api/risk/events/987654/responsibility")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "risk_event_not_found"


async def test_a_visitor_is_sent_to_sign_in(client: httpx.AsyncClient, places: None) -> None:
    page = await client.get("/risk/dashboard", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_the_dashboard_api_lists_what_the_officer_answers_for(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db, origin=HANGZHOU)
    await journey(db, settings, event, reach(HUZHOU))
    hangzhou = await make_officer(db, officer_grant(HANGZHOU))
    await browser_login(client, hangzhou.user.username)
    data = (await client.get("/api/risk/dashboard")).json()
    # the origin sees the warnings it caused (to follow their acknowledgement), not as its own
    assert {w["recipient_code"] for w in data["warnings"]} >= {HUZHOU}
    assert f"prefecture:{HANGZHOU}" in data["audiences"] and data["head"] > 0
    feed = (await client.get("/api/risk/dashboard/feed?after=0")).json()
    assert {item["audience"] for item in feed["items"]} == {f"prefecture:{HANGZHOU}"}


async def test_the_event_page_carries_the_responsibility_list(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db, origin=HANGZHOU)
    await journey(db, settings, event, reach(HUZHOU))
    officer = await make_officer(db, officer_grant(HUZHOU))
    await browser_login(client, officer.user.username)
    page = await client.get(f"/risk/events/{event.id}")
    assert page.status_code == 200, page.text[:2000]
    assert 'id="responsibility"' in page.text and f'data-event-id="{event.id}"' in page.text
    assert "/static/risk/responsibility.js" in page.text
