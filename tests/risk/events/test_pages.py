"""The report pages: an officer reports from a phone, sees the version chain and the map, updates and cancels."""

from __future__ import annotations

import re

import httpx

from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.factories import browser_login, csrf_from_html, make_user
from tests.risk.events.fixtures import local_iso, stored_events


async def signed_in_officer(client: httpx.AsyncClient, db: Database, adcode: str = "330100") -> None:
    user = await make_user(db, roles=[RoleGrant(Role.city_officer, ScopeKind.jurisdiction, adcode)])
    await browser_login(client, user.username)


def form(csrf: str, **fields: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "origin": "prefecture:330100",
        "kind": "risk",
        "category": "natural_disaster",
        "event_type": "rainstorm",
        "warning_level": "2",
        "certainty": "Likely",
        "urgency": "Expected",
        "area_mode": "circle",
        "lat": "30.245",
        "lon": "120.14",
        "radius_km": "8",
        "detected_at": local_iso(1)[:16],
        "scope": "restricted",
        "description": "西湖周边短时强降水",
    }
    values.update(fields)
    return values


async def test_an_officer_reports_through_the_form_and_lands_on_the_report_page(
    client: httpx.AsyncClient, db: Database, geo: None
) -> None:
    await signed_in_officer(client, db)
    page = await client.get("/risk/events/new")
    assert page.status_code == 200
    assert (
        "上报风险或事件" in page.text and 'name="warning_level"' in page.text and 'name="grade"' in page.text
    )
    assert "scale-red" in page.text and "prefecture:330100" in page.text
    csrf = csrf_from_html(page.text)
    assert (await client.post("/risk/events/new", data=form(""))).status_code == 403  # no CSRF token
    created = await client.post("/risk/events/new", data=form(csrf))
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert re.fullmatch(r"/risk/events/\d+", location)
    report = await client.get(location)
    assert report.status_code == 200
    assert "杭州市暴雨橙色预警" in report.text and "scale-orange" in report.text
    assert 'id="event-map"' in report.text and 'class="hazard"' in report.text
    assert 'class="jurisdiction"' in report.text  # the prefectures around it
    assert f'href="/api/risk/events/{location.rsplit("/", 1)[1]}/cap"' in report.text
    assert 'id="versions"' in report.text
    [event] = await stored_events(db)
    assert (event.source, event.area["circles"][0]["radius_km"]) == ("form", 8.0)


async def test_a_form_with_both_scales_chosen_sends_only_the_scale_of_its_kind(
    client: httpx.AsyncClient, db: Database, geo: None
) -> None:
    await signed_in_officer(client, db)
    csrf = csrf_from_html((await client.get("/risk/events/new")).text)
    created = await client.post(
        "/risk/events/new", data=form(csrf, kind="event", grade="3", warning_level="1")
    )
    assert created.status_code == 303
    [event] = await stored_events(db)
    assert (event.kind, event.grade, event.warning_level) == ("event", 3, None)


async def test_a_refused_form_comes_back_with_the_reason_in_chinese_and_what_was_typed(
    client: httpx.AsyncClient, db: Database, geo: None
) -> None:
    await signed_in_officer(client, db)
    csrf = csrf_from_html((await client.get("/risk/events/new")).text)
    refused = await client.post(
        "/risk/events/new", data=form(csrf, kind="risk", warning_level="", description="保留这段描述")
    )
    assert refused.status_code == 422
    assert "须且只能填写与类型" in refused.text and "保留这段描述" in refused.text
    bad_circle = await client.post("/risk/events/new", data=form(csrf, radius_km="far"))
    assert bad_circle.status_code == 422
    english = await client.post("/risk/events/new?lang=en", data=form(csrf, lat="95"))
    assert english.status_code == 422 and "not valid" in english.text
    assert await stored_events(db) == []


async def test_updating_and_cancelling_from_the_report_page_builds_the_chain(
    client: httpx.AsyncClient, db: Database, geo: None
) -> None:
    await signed_in_officer(client, db)
    csrf = csrf_from_html((await client.get("/risk/events/new")).text)
    first = (await client.post("/risk/events/new", data=form(csrf))).headers["location"]
    first_id = first.rsplit("/", 1)[1]
    updated = await client.post(
        f"/risk/events/{first_id}/update",
        data={"csrf_token": csrf, "version": "1", "warning_level": "1", "description": "雨势加大"},
    )
    assert updated.status_code == 303 and updated.headers["location"].endswith("?notice=updated")
    second_page = await client.get(updated.headers["location"])
    assert "已发布新版本" in second_page.text and "杭州市暴雨红色预警" in second_page.text
    assert second_page.text.count('data-version="') == 2
    stale = await client.post(
        f"/risk/events/{first_id}/cancel", data={"csrf_token": csrf, "version": "1", "reason": "x"}
    )
    assert stale.headers["location"] == f"/risk/events/{first_id}?error=stale_version"
    second_id = updated.headers["location"].split("?")[0].rsplit("/", 1)[1]
    cancelled = await client.post(
        f"/risk/events/{second_id}/cancel", data={"csrf_token": csrf, "version": "2", "reason": "降雨结束"}
    )
    assert cancelled.status_code == 303
    final = await client.get(cancelled.headers["location"])
    assert "报告已撤销" in final.text and 'id="update-form"' not in final.text
    assert [(e.version, e.status) for e in await stored_events(db)] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "cancelled"),
    ]


async def test_the_list_shows_active_reports_and_english_on_request(
    client: httpx.AsyncClient, db: Database, geo: None
) -> None:
    await signed_in_officer(client, db)
    csrf = csrf_from_html((await client.get("/risk/events/new")).text)
    await client.post("/risk/events/new", data=form(csrf, headline="西湖短时强降水"))
    listing = await client.get("/risk/events")
    assert (
        listing.status_code == 200 and "西湖短时强降水" in listing.text and "风险与事件报告" in listing.text
    )
    assert "Risk and event reports" in (await client.get("/risk/events?lang=en")).text
    assert "no-events" in (await client.get("/risk/events?status=cancelled")).text


async def test_pages_need_a_sign_in_and_a_role(client: httpx.AsyncClient, db: Database, geo: None) -> None:
    visitor = await client.get("/risk/events/new", headers={"Accept": "text/html"})
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/login")
    patient = await make_user(db, roles=[Role.patient])
    await browser_login(client, patient.username)
    assert (await client.get("/risk/events/new")).status_code == 403


async def test_files_sent_with_the_form_are_attached_in_the_same_transaction(
    client: httpx.AsyncClient, db: Database, settings: Settings, geo: None
) -> None:
    await signed_in_officer(client, db)
    csrf = csrf_from_html((await client.get("/risk/events/new")).text)
    photo = b"\xff\xd8\xff" + b"jpeg" * 100
    created = await client.post(
        "/risk/events/new", data=form(csrf), files=[("attachments", ("积水.jpg", photo, "image/jpeg"))]
    )
    assert created.status_code == 303, created.text
    page = await client.get(created.headers["location"])
    assert "积水.jpg" in page.text
    too_big = b"x" * (settings.risk_attachment_max_bytes + 1)
    refused = await client.post(
        "/risk/events/new",
        data=form(csrf, headline="第二份"),
        files=[("attachments", ("big.bin", too_big, "application/octet-stream"))],
    )
    assert refused.status_code == 413
    assert len(await stored_events(db)) == 1  # the refused report left nothing behind
