"""CAP 1.2 alerts in: polygons, circles and geocodes become reports; Update and Cancel chain by references."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import shapely

from regio.core.db import Database
from tests.risk.events.fixtures import Headers, outbox_payloads, stored_events

SAMPLES = Path(__file__).parent / "samples"
CAP = {"Content-Type": "application/cap+xml"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


async def post_cap(client: httpx.AsyncClient, headers: Headers, body: bytes) -> httpx.Response:
    return await client.post("/api/risk/cap", content=body, headers={**headers, **CAP})


async def test_a_polygon_alert_becomes_a_risk_at_the_level_of_its_severity(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    response = await post_cap(client, hz_officer, sample("rainstorm_polygon.xml"))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) >= {"event_id", "affected", "possible_duplicates"}
    event = answer["event"]
    assert (event["event_type"], event["category"], event["kind"]) == (
        "rainstorm",
        "natural_disaster",
        "risk",
    )
    assert (event["warning_level"], event["severity"]) == (2, "Severe")
    assert (event["certainty"], event["urgency"], event["scope"]) == ("Likely", "Expected", "public")
    assert (event["origin_level"], event["origin_adcode"]) == ("prefecture", "330100")
    assert (event["identifier"], event["sender"]) == (
        "33010041600000_20261130080000",
        "hz-weather@hangzhou.example.cn",
    )
    assert (
        event["source"] == "cap" and event["headline"] == "杭州市气象台发布暴雨橙色预警"
    )  # the Chinese <info>
    assert datetime.fromisoformat(event["detected_at"]) == datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert datetime.fromisoformat(event["expires_at"]) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert event["area"]["polygons"] == ["30.20,120.05 30.20,120.25 30.32,120.25 30.32,120.05 30.20,120.05"]
    assert shapely.geometry.shape(event["geometry"]).contains(shapely.Point(120.14, 30.245))
    stored = await stored_events(db)
    assert stored[0].raw_cap is not None and "33010041600000_20261130080000" in stored[0].raw_cap
    assert await outbox_payloads(db) == [{"event_id": event["id"], "change": "reported"}]


async def test_a_circle_alert_with_a_grade_becomes_an_event_that_happened(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    response = await post_cap(client, hz_officer, sample("chemical_leak_circle.xml"))
    assert response.status_code == 201, response.text
    event = response.json()["event"]
    assert (event["event_type"], event["category"], event["kind"]) == ("chemical_leak", "accident", "event")
    assert (event["grade"], event["warning_level"], event["severity"]) == (3, None, "Moderate")
    assert event["scope"] == "restricted"
    assert event["area"]["circles"] == [{"lat": 30.3, "lon": 120.55, "radius_km": 5.0}]
    circle = shapely.geometry.shape(event["geometry"])
    assert circle.contains(shapely.Point(120.55, 30.34)) and not circle.contains(shapely.Point(120.55, 30.35))


async def test_a_geocode_alert_covers_the_named_jurisdictions_and_is_reported_by_the_first(
    client: httpx.AsyncClient, geo: None, make_headers
) -> None:  # type: ignore[no-untyped-def]
    from regio.core.access import Role

    province = await make_headers(Role.city_officer, scope="330000")
    response = await post_cap(client, province, sample("typhoon_geocode.xml"))
    assert response.status_code == 201, response.text
    event = response.json()["event"]
    assert event["event_type"] == "typhoon"  # recognised from "台风红色预警"
    assert (event["warning_level"], event["severity"]) == (1, "Extreme")
    assert (event["origin_level"], event["origin_adcode"]) == ("prefecture", "330300")
    assert [g["name"] for g in event["area"]["geocodes"]] == ["温州市", "台州市"]
    area = shapely.geometry.shape(event["geometry"])
    assert area.contains(shapely.Point(120.70, 28.00))  # Wenzhou
    assert area.contains(shapely.Point(121.42, 28.66))  # Taizhou
    assert not area.contains(shapely.Point(120.14, 30.245))  # Hangzhou


async def test_update_and_cancel_chain_to_the_alert_they_reference(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    alert = (await post_cap(client, hz_officer, sample("rainstorm_polygon.xml"))).json()["event"]
    response = await post_cap(client, hz_officer, sample("rainstorm_update.xml"))
    assert response.status_code == 200, response.text
    update = response.json()["event"]
    assert (update["msg_type"], update["version"], update["references_id"], update["root_id"]) == (
        "update",
        2,
        alert["id"],
        alert["id"],
    )
    assert (update["warning_level"], update["severity"], update["certainty"]) == (1, "Extreme", "Observed")
    assert update["identifier"] == "33010041600000_20261130100000"
    assert shapely.geometry.shape(update["geometry"]).contains(shapely.Point(119.95, 30.05))  # Fuyang now too
    response = await post_cap(client, hz_officer, sample("rainstorm_cancel.xml"))
    assert response.status_code == 200, response.text
    cancel = response.json()["event"]
    assert (cancel["msg_type"], cancel["status"], cancel["version"], cancel["references_id"]) == (
        "cancel",
        "cancelled",
        3,
        update["id"],
    )
    assert [(e.version, e.status) for e in await stored_events(db)] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "cancelled"),
    ]
    assert [p["change"] for p in await outbox_payloads(db)] == ["reported", "updated", "cancelled"]


async def test_an_update_of_an_alert_never_received_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    response = await post_cap(client, hz_officer, sample("rainstorm_update.xml"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "cap_unknown_reference"
    assert "33010041600000_20261130080000" in error["message_en"]
    assert await stored_events(db) == []


async def test_the_same_alert_twice_is_refused_the_second_time(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    first = await post_cap(client, hz_officer, sample("rainstorm_polygon.xml"))
    second = await post_cap(client, hz_officer, sample("rainstorm_polygon.xml"))
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "identifier_taken"
    assert second.json()["error"]["details"]["event_id"] == first.json()["event_id"]
    assert len(await stored_events(db)) == 1


async def test_an_alert_from_another_city_is_refused(
    client: httpx.AsyncClient, db: Database, geo: None, make_headers
) -> None:  # type: ignore[no-untyped-def]
    from regio.core.access import Role

    ningbo = await make_headers(Role.city_officer, scope="330200")
    response = await post_cap(client, ningbo, sample("rainstorm_polygon.xml"))
    assert response.status_code == 403
    assert await stored_events(db) == []


async def test_test_and_ack_messages_are_not_taken_as_reports(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    body = sample("rainstorm_polygon.xml").replace(b"<status>Actual</status>", b"<status>Test</status>")
    response = await post_cap(client, hz_officer, body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "cap_unsupported"
    assert await stored_events(db) == []


async def test_an_unknown_event_is_refused_with_its_code(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    body = (
        sample("rainstorm_polygon.xml")
        .replace(b"<event>\xe6\x9a\xb4\xe9\x9b\xa8</event>", "<event>陨石</event>".encode())
        .replace("暴雨橙色".encode(), "陨石".encode())
    )
    response = await post_cap(client, hz_officer, body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "cap_unknown_event_type"
    assert await stored_events(db) == []


async def test_a_cap_body_must_say_it_is_xml(client: httpx.AsyncClient, hz_officer: Headers) -> None:
    response = await client.post(
        "/api/risk/cap",
        content=sample("rainstorm_polygon.xml"),
        headers={**hz_officer, "Content-Type": "text/plain"},
    )
    assert response.status_code == 415 and response.json()["error"]["code"] == "cap_content_type"
