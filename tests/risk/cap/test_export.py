"""CAP 1.2 out: every exported alert validates against the OASIS schema, and importing it again gives the same report."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from lxml import etree

from regio.core.access import Role
from regio.core.db import Database
from regio.risk.cap import xml as capxml
from tests.risk.cap.test_import import post_cap, sample
from tests.risk.events.fixtures import Headers, MakeOfficer, post_report

NS = {"cap": capxml.NS}
SAME_FIELDS = (
    "category",
    "event_type",
    "kind",
    "warning_level",
    "grade",
    "severity",
    "certainty",
    "urgency",
    "scope",
    "origin_level",
    "origin_adcode",
    "geometry",
    "area",
    "area_desc",
    "detected_at",
    "expires_at",
    "headline",
    "description",
    "instruction",
)


async def exported(client: httpx.AsyncClient, headers: Headers, event_id: int) -> etree._Element:
    response = await client.get(f"/api/risk/events/{event_id}/cap", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/cap+xml")
    assert capxml.validate(response.content) == []
    return etree.fromstring(response.content)


def value(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    assert found, path
    return str(found[0])


async def test_an_exported_risk_validates_and_speaks_cap(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    event = (await post_report(client, hz_officer, warning_level=2, expires_at="2099-01-01T08:00:00+08:00"))[
        "event"
    ]
    root = await exported(client, hz_officer, event["id"])
    assert value(root, "/cap:alert/cap:identifier/text()") == event["identifier"]
    assert value(root, "/cap:alert/cap:msgType/text()") == "Alert"
    assert value(root, "/cap:alert/cap:scope/text()") == "Restricted"
    for time_text in root.xpath(
        "//cap:sent/text() | //cap:onset/text() | //cap:expires/text()", namespaces=NS
    ):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", str(time_text)), time_text
    info = "/cap:alert/cap:info"
    assert value(root, f"{info}/cap:language/text()") == "zh-CN"
    assert value(root, f"{info}/cap:event/text()") == "暴雨"
    assert value(root, f"{info}/cap:severity/text()") == "Severe"
    assert value(root, f"{info}/cap:area/cap:areaDesc/text()") == "杭州市"
    assert value(root, f"{info}/cap:area/cap:polygon/text()") == event["area"]["polygons"][0]
    origin = root.xpath(
        f"{info}/cap:area/cap:geocode[cap:valueName='REGIO-ORIGIN']/cap:value/text()", namespaces=NS
    )
    assert origin == ["prefecture:330100"]
    assert (
        value(root, f"{info}/cap:parameter[cap:valueName='REGIO-WARNING-COLOUR']/cap:value/text()")
        == "orange"
    )


@pytest.mark.parametrize("grade,severity", [(1, "Extreme"), (4, "Minor")])
async def test_grades_of_events_map_onto_severity(
    client: httpx.AsyncClient, hz_officer: Headers, grade: int, severity: str
) -> None:
    event = (
        await post_report(
            client,
            hz_officer,
            category="accident",
            event_type="explosion",
            kind="event",
            warning_level=None,
            grade=grade,
        )
    )["event"]
    root = await exported(client, hz_officer, event["id"])
    assert value(root, "//cap:severity/text()") == severity
    assert value(root, "//cap:parameter[cap:valueName='REGIO-GRADE']/cap:value/text()") == str(grade)


async def test_an_area_of_jurisdictions_is_exported_as_geocodes_with_their_adcodes(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    event = (
        await post_report(
            client,
            hz_officer,
            area={"adcodes": ["330100"], "circles": [{"lat": 30.3, "lon": 120.2, "radius_km": 3}]},
        )
    )["event"]
    root = await exported(client, hz_officer, event["id"])
    adcodes = root.xpath("//cap:geocode[cap:valueName='ADCODE']/cap:value/text()", namespaces=NS)
    assert adcodes == ["330100"]
    assert root.xpath("//cap:circle/text()", namespaces=NS) == ["30.3,120.2 3"]


async def test_an_update_names_every_earlier_version_in_references(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    first = (await post_report(client, hz_officer))["event"]
    second = (
        await client.post(
            f"/api/risk/events/{first['id']}/update", json={"warning_level": 1}, headers=hz_officer
        )
    ).json()["event"]
    third = (
        await client.post(
            f"/api/risk/events/{second['id']}/cancel", json={"reason": "解除"}, headers=hz_officer
        )
    ).json()["event"]
    root = await exported(client, hz_officer, third["id"])
    assert value(root, "/cap:alert/cap:msgType/text()") == "Cancel"
    references = value(root, "/cap:alert/cap:references/text()").split()
    assert [r.split(",")[1] for r in references] == [first["identifier"], second["identifier"]]
    assert all(r.split(",")[0] == first["sender"] for r in references)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "area": {"adcodes": ["330100"]},
            "kind": "event",
            "warning_level": None,
            "grade": 2,
            "category": "public_health",
            "event_type": "epidemic",
        },
        {
            "area": {"circles": [{"lat": 30.245, "lon": 120.14, "radius_km": 12.5}]},
            "scope": "public",
            "instruction": "关闭门窗",
        },
    ],
)
async def test_re_importing_an_exported_alert_gives_the_same_report(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers, overrides: dict[str, Any]
) -> None:
    original = (await post_report(client, hz_officer, expires_at="2099-01-01T08:00:00+08:00", **overrides))[
        "event"
    ]
    response = await client.get(f"/api/risk/events/{original['id']}/cap", headers=hz_officer)
    # the same alert under another identifier, as if a second platform relayed it
    relayed = response.content.replace(
        original["identifier"].encode(), b"relayed-" + original["identifier"].encode()
    )
    answer = await post_cap(client, hz_officer, relayed)
    assert answer.status_code == 201, answer.text
    again = answer.json()["event"]
    assert {k: again[k] for k in SAME_FIELDS} == {k: original[k] for k in SAME_FIELDS}
    assert again["source"] == "cap" and again["sender"] == original["sender"]


async def test_an_imported_sample_exports_back_valid(client: httpx.AsyncClient, hz_officer: Headers) -> None:
    event = (await post_cap(client, hz_officer, sample("chemical_leak_circle.xml"))).json()["event"]
    root = await exported(client, hz_officer, event["id"])
    assert value(root, "//cap:circle/text()") == "30.3,120.55 5"
    assert value(root, "//cap:onset/text()") == "2026-11-30T09:02:00+08:00"


async def test_only_those_who_may_read_the_report_get_its_alert(
    client: httpx.AsyncClient, hz_officer: Headers, make_headers: MakeOfficer
) -> None:
    event = (await post_report(client, hz_officer))["event"]
    stranger = await make_headers(Role.city_officer, scope="440100")  # Guangzhou: no shared body
    assert (await client.get(f"/api/risk/events/{event['id']}/cap", headers=stranger)).status_code == 403
    assert (await client.get(f"/api/risk/events/{event['id']}/cap")).status_code == 401
