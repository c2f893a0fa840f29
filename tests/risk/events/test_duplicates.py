"""A report that overlaps an active one in type, area and time is offered as a possible duplicate to merge."""

from __future__ import annotations

import asyncio

import httpx

from regio.core.access import Role
from regio.core.db import Database
from regio.risk.events import service
from tests.risk.events.fixtures import (
    WENZHOU_POLYGON,
    Headers,
    MakeOfficer,
    audit_actions,
    local_iso,
    outbox_payloads,
    post_report,
)
from tests.risk.events.test_chain import HZ

# Overlaps the West Lake polygon of report_body() in its south-east corner.
OVERLAPPING = "30.15,120.20 30.15,120.35 30.25,120.35 30.25,120.20 30.15,120.20"


async def test_an_overlapping_report_of_the_same_type_and_time_is_offered_as_a_duplicate(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    first = await post_report(client, hz_officer)
    second = await post_report(
        client, hz_officer, area={"cap_polygons": [OVERLAPPING]}, detected_at=local_iso(3)
    )
    assert first["possible_duplicates"] == []
    assert second["possible_duplicates"] == [first["event_id"]]
    detail = (await client.get(f"/api/risk/events/{second['event_id']}", headers=hz_officer)).json()
    assert detail["possible_duplicates"] == [first["event_id"]]


async def test_no_duplicate_when_type_area_or_time_differ(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    await post_report(client, hz_officer)
    other_type = await post_report(
        client, hz_officer, event_type="flood", area={"cap_polygons": [OVERLAPPING]}
    )
    far_away = await post_report(
        client, hz_officer, area={"cap_polygons": [WENZHOU_POLYGON]}, origin_adcode="330100"
    )
    control = await post_report(client, hz_officer, area={"cap_polygons": [OVERLAPPING]})
    assert other_type["possible_duplicates"] == []
    assert far_away["possible_duplicates"] == []
    assert control["possible_duplicates"]  # same type, area and time: a duplicate
    outside_window = await post_report(
        client, hz_officer, area={"cap_polygons": [OVERLAPPING]}, detected_at=local_iso(1 + 6.5)
    )
    assert outside_window["possible_duplicates"] == []  # 6.5 h before the others, the window is 6 h


async def test_merging_folds_the_duplicate_into_the_original_and_is_audited(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    original = await post_report(client, hz_officer)
    duplicate = await post_report(client, hz_officer, area={"cap_polygons": [OVERLAPPING]})
    response = await client.post(
        f"/api/risk/events/{duplicate['event_id']}/merge",
        json={"into": original["event_id"], "reason": "同一场降雨"},
        headers=hz_officer,
    )
    assert response.status_code == 200, response.text
    merged = response.json()["event"]
    assert (merged["status"], merged["merged_into_id"]) == ("merged", original["event_id"])
    assert ("risk_event.merged", str(duplicate["event_id"])) in await audit_actions(db)
    assert (await outbox_payloads(db))[-1] == {
        "event_id": duplicate["event_id"],
        "change": "cancelled",
        "merged_into": original["event_id"],
    }
    active = (await client.get("/api/risk/events", headers=hz_officer)).json()["events"]
    assert [e["id"] for e in active] == [original["event_id"]]


async def test_only_real_duplicates_merge_and_never_into_themselves(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    original = await post_report(client, hz_officer)
    unrelated = await post_report(client, hz_officer, event_type="flood")
    response = await client.post(
        f"/api/risk/events/{unrelated['event_id']}/merge",
        json={"into": original["event_id"]},
        headers=hz_officer,
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_a_duplicate"
    itself = await client.post(
        f"/api/risk/events/{original['event_id']}/merge",
        json={"into": original["event_id"]},
        headers=hz_officer,
    )
    assert itself.status_code == 422 and itself.json()["error"]["code"] == "merge_into_itself"


async def test_a_coordinator_of_the_body_may_merge_but_an_outsider_may_not(
    client: httpx.AsyncClient, hz_officer: Headers, make_headers: MakeOfficer
) -> None:
    original = await post_report(client, hz_officer)
    duplicate = await post_report(client, hz_officer, area={"cap_polygons": [OVERLAPPING]})
    outsider = await make_headers(Role.coordinator, scope="greater-bay-area")
    path = f"/api/risk/events/{duplicate['event_id']}/merge"
    assert (await client.post(path, json={"into": original["event_id"]}, headers=outsider)).status_code == 403
    coordinator = await make_headers(Role.coordinator, scope="hangzhou-metropolitan")
    assert (
        await client.post(path, json={"into": original["event_id"]}, headers=coordinator)
    ).status_code == 200


async def test_two_crossing_merges_at_once_leave_exactly_one_report_active(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    one = await post_report(client, hz_officer)
    other = await post_report(client, hz_officer, area={"cap_polygons": [OVERLAPPING]})

    async def merge(event_id: int, into: int) -> object:
        async with db.sessionmaker() as session:
            return await service.merge(
                session=session,
                principal=HZ,
                event_id=event_id,
                into_id=into,
                reason="",
                duplicate_window_hours=6,
            )

    results = await asyncio.gather(
        merge(one["event_id"], other["event_id"]),
        merge(other["event_id"], one["event_id"]),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    async with db.sessionmaker() as session:
        active = await service.list_active(session)
    assert len(active) == 1
