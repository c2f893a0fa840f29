"""A city reports a risk (warning level 1–4) or an event that happened (grade I–IV), never both, for its own area."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import shapely
from sqlalchemy.exc import IntegrityError

from regio.core.access import Role
from regio.core.db import Database
from regio.risk.events.models import RiskEvent
from regio.risk.events.service import severity_of
from tests.risk.events.fixtures import (
    Headers,
    MakeOfficer,
    audit_actions,
    local_iso,
    outbox_payloads,
    post_report,
    report_body,
    stored_events,
)


async def test_a_risk_is_reported_with_a_warning_level_and_its_severity(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    answer = await post_report(client, hz_officer, warning_level=2)
    event = answer["event"]
    assert (event["kind"], event["warning_level"], event["grade"]) == ("risk", 2, None)
    assert event["severity"] == "Severe"
    assert (event["version"], event["root_id"], event["references_id"]) == (1, event["id"], None)
    assert (event["msg_type"], event["status"], event["source"]) == ("alert", "active", "api")
    assert event["headline"] == "杭州市暴雨橙色预警"
    assert event["area_desc"] == "杭州市"
    assert re.fullmatch(r"regio-330100-\d{14}-[0-9a-f]{8}", event["identifier"])


async def test_an_event_that_happened_is_reported_with_a_grade(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    answer = await post_report(
        client,
        hz_officer,
        category="accident",
        event_type="chemical_leak",
        kind="event",
        warning_level=None,
        grade=1,
        certainty="Observed",
        urgency="Immediate",
    )
    event = answer["event"]
    assert (event["kind"], event["warning_level"], event["grade"], event["severity"]) == (
        "event",
        None,
        1,
        "Extreme",
    )
    assert event["headline"] == "杭州市危险化学品泄漏事件（I级 特别重大）"


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "risk", "warning_level": 2, "grade": 3},
        {"kind": "risk", "warning_level": None, "grade": 3},
        {"kind": "event", "warning_level": 2, "grade": None},
        {"kind": "event", "warning_level": 2, "grade": 2},
        {"kind": "risk", "warning_level": None, "grade": None},
    ],
)
async def test_a_report_gives_exactly_the_scale_of_its_kind_or_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers, fields: dict[str, Any]
) -> None:
    response = await client.post("/api/risk/events", json=report_body(**fields), headers=hz_officer)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "level_and_grade"
    assert "预警级别" in error["message_zh"] and "grade" in error["message_en"]
    assert await stored_events(db) == []
    assert await outbox_payloads(db) == []


async def test_the_database_itself_refuses_a_row_with_both_scales(db: Database, hz_officer: Headers) -> None:
    from datetime import UTC, datetime

    async with db.session() as session:
        session.add(
            RiskEvent(
                identifier="x",
                sender="s",
                version=1,
                msg_type="alert",
                status="active",
                category="natural_disaster",
                event_type="flood",
                kind="risk",
                warning_level=1,
                grade=1,
                severity="Extreme",
                certainty="Likely",
                urgency="Expected",
                scope="restricted",
                origin_level="prefecture",
                origin_adcode="330100",
                geometry={"type": "Point", "coordinates": [120.1, 30.2]},
                area={},
                detected_at=datetime.now(UTC),
                headline="h",
                source="api",
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


@pytest.mark.parametrize("rank,severity", [(1, "Extreme"), (2, "Severe"), (3, "Moderate"), (4, "Minor")])
def test_both_scales_map_onto_cap_severity_the_same_way(rank: int, severity: str) -> None:
    assert severity_of("risk", rank, None) == severity
    assert severity_of("event", None, rank) == severity


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"event_type": "volcano"}, "unknown_event_type"),
        ({"event_type": "epidemic"}, "category_mismatch"),
        (
            {"area": {"cap_polygons": ["30.2,120.0 30.3,120.2 30.2,120.2 30.3,120.0 30.2,120.0"]}},
            "self_intersecting_geometry",
        ),
        ({"area": {"cap_polygons": ["30.2,120.0 30.3,120.2 30.2,120.2"]}}, "unclosed_ring"),
        ({"area": {"geojson": {"type": "Polygon", "coordinates": "nonsense"}}}, "invalid_geometry"),
        ({"area": {}}, "no_area"),
        ({"area": {"adcodes": ["999999"]}}, "unknown_jurisdiction"),
        ({"detected_at": local_iso(-3)}, "detected_in_future"),
        ({"origin_adcode": "330199"}, "invalid_origin"),
        ({"warning_level": 5}, "validation_error"),
    ],
)
async def test_bad_input_is_refused_with_a_stable_code_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers, fields: dict[str, Any], code: str
) -> None:
    response = await client.post("/api/risk/events", json=report_body(**fields), headers=hz_officer)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()["error"]
    assert body["code"] == code
    assert body["message_zh"] and body["message_en"]
    assert await stored_events(db) == []


async def test_an_area_given_as_jurisdictions_is_their_boundary(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    answer = await post_report(client, hz_officer, area={"adcodes": ["330100"]})
    event = answer["event"]
    assert event["area"]["geocodes"] == [{"level": "prefecture", "adcode": "330100", "name": "杭州市"}]
    area = shapely.geometry.shape(event["geometry"])
    assert area.contains(shapely.Point(120.14, 30.245))  # West Lake
    assert not area.contains(shapely.Point(121.55, 29.87))  # Ningbo
    assert 1.4 < area.area < 1.9  # Hangzhou's 16,850 km² in square degrees at 30° N


async def test_an_area_given_as_a_circle_is_a_geodesic_polygon_of_that_radius(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    answer = await post_report(
        client, hz_officer, area={"circles": [{"lat": 30.245, "lon": 120.14, "radius_km": 10}]}
    )
    event = answer["event"]
    assert event["area"]["circles"] == [{"lat": 30.245, "lon": 120.14, "radius_km": 10.0}]
    circle = shapely.geometry.shape(event["geometry"])
    assert circle.contains(shapely.Point(120.14, 30.245 + 0.085))  # 9.4 km north
    assert not circle.contains(shapely.Point(120.14, 30.245 + 0.095))  # 10.5 km north


async def test_a_report_writes_its_audit_entry_and_outbox_message_with_it(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    answer = await post_report(client, hz_officer)
    event_id = answer["event_id"]
    assert await outbox_payloads(db) == [{"event_id": event_id, "change": "reported"}]
    assert await audit_actions(db) == [("risk_event.reported", str(event_id))]


async def test_an_officer_reports_only_for_their_own_jurisdiction(
    client: httpx.AsyncClient, db: Database, geo: None, make_headers: MakeOfficer
) -> None:
    ningbo = await make_headers(Role.city_officer, scope="330200")
    response = await client.post("/api/risk/events", json=report_body(), headers=ningbo)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    # a provincial officer reports for any city of the province
    province = await make_headers(Role.city_officer, scope="330000")
    assert (await client.post("/api/risk/events", json=report_body(), headers=province)).status_code == 201
    # a county officer of Hangzhou's Xihu district may report for the district, not the city
    xihu = await make_headers(Role.city_officer, scope="330106")
    assert (await client.post("/api/risk/events", json=report_body(), headers=xihu)).status_code == 403
    assert len(await stored_events(db)) == 1


async def test_a_regulator_or_a_visitor_cannot_report(
    client: httpx.AsyncClient, geo: None, make_headers: MakeOfficer
) -> None:
    regulator = await make_headers(Role.regulator)
    assert (await client.post("/api/risk/events", json=report_body(), headers=regulator)).status_code == 403
    assert (await client.post("/api/risk/events", json=report_body())).status_code == 401


async def test_a_retried_report_with_the_same_idempotency_key_is_stored_once(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    headers = {**hz_officer, "Idempotency-Key": "report-7f3a"}
    body = report_body()
    first = await client.post("/api/risk/events", json=body, headers=headers)
    second = await client.post("/api/risk/events", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["event_id"] == second.json()["event_id"]
    assert len(await stored_events(db)) == 1


async def test_the_published_type_list_names_each_type_in_both_languages(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    types = (await client.get("/api/risk/event-types", headers=hz_officer)).json()
    by_code = {t["code"]: t for t in types}
    assert by_code["rainstorm"] == {
        "code": "rainstorm",
        "category": "natural_disaster",
        "name_zh": "暴雨",
        "name_en": "Rainstorm",
    }
    assert {"flood", "typhoon", "earthquake", "chemical_leak", "epidemic", "cyber_attack"} <= by_code.keys()


async def test_a_report_stays_accepted_when_the_journey_fails_after_commit(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from regio.risk import flows

    async def broken(**_: Any) -> list[dict[str, Any]]:
        raise RuntimeError("spill-over model unavailable")

    monkeypatch.setattr(flows, "after_event_change", broken)
    answer = await post_report(client, hz_officer)
    assert answer["affected"] == [] and answer["affected_pending"] is True
    # the outbox message written with the report runs the journey again
    assert await outbox_payloads(db) == [{"event_id": answer["event_id"], "change": "reported"}]
    assert [e.status for e in await stored_events(db)] == ["active"]
