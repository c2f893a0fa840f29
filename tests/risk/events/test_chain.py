"""Updates and cancellations chain to the original (CAP references); one version of a chain is current."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database
from regio.risk.events import errors, service
from regio.risk.events.enums import Source
from regio.risk.events.schemas import UpdateIn
from regio.risk.geography.engine import IndexHolder
from tests.risk.events.fixtures import Headers, outbox_payloads, post_report, stored_events

HZ = Principal(
    user_id=None,
    client_id=77,
    username="hz-system",
    grants=frozenset({RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100")}),
)


async def test_an_update_is_a_new_version_that_references_the_one_it_replaces(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    first = (await post_report(client, hz_officer, warning_level=3))["event"]
    response = await client.post(
        f"/api/risk/events/{first['id']}/update",
        json={"version": 1, "warning_level": 1, "description": "雨势加大"},
        headers=hz_officer,
    )
    assert response.status_code == 200, response.text
    second = response.json()["event"]
    assert (second["version"], second["references_id"], second["root_id"]) == (2, first["id"], first["id"])
    assert (second["msg_type"], second["status"], second["severity"]) == ("update", "active", "Extreme")
    assert second["headline"] == "杭州市暴雨红色预警"  # the platform's headline follows the level
    assert second["description"] == "雨势加大"
    assert second["geometry"] == first["geometry"] and second["certainty"] == first["certainty"]
    assert second["identifier"] != first["identifier"]
    detail = (await client.get(f"/api/risk/events/{first['id']}", headers=hz_officer)).json()
    assert [(v["version"], v["status"]) for v in detail["versions"]] == [(1, "superseded"), (2, "active")]
    assert [p["change"] for p in await outbox_payloads(db)] == ["reported", "updated"]


async def test_a_cancel_ends_the_chain_and_nothing_can_follow_it(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers
) -> None:
    first = (await post_report(client, hz_officer))["event"]
    response = await client.post(
        f"/api/risk/events/{first['id']}/cancel", json={"reason": "误报，已核实无降雨"}, headers=hz_officer
    )
    assert response.status_code == 200, response.text
    cancel = response.json()["event"]
    assert (cancel["msg_type"], cancel["status"], cancel["references_id"]) == (
        "cancel",
        "cancelled",
        first["id"],
    )
    assert cancel["description"] == "误报，已核实无降雨"
    again = await client.post(
        f"/api/risk/events/{cancel['id']}/update", json={"warning_level": 1}, headers=hz_officer
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "event_not_active"
    assert await outbox_payloads(db) == [
        {"event_id": first["id"], "change": "reported"},
        {"event_id": cancel["id"], "change": "cancelled"},
    ]
    listed = (await client.get("/api/risk/events", headers=hz_officer)).json()["events"]
    assert listed == []


async def test_changing_a_replaced_version_is_refused_as_stale_and_names_the_current_one(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    first = (await post_report(client, hz_officer))["event"]
    second = (
        await client.post(
            f"/api/risk/events/{first['id']}/update", json={"urgency": "Immediate"}, headers=hz_officer
        )
    ).json()["event"]
    stale = await client.post(
        f"/api/risk/events/{first['id']}/update", json={"urgency": "Future"}, headers=hz_officer
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "stale_version"
    assert stale.json()["error"]["details"]["current_id"] == second["id"]
    wrong_version = await client.post(
        f"/api/risk/events/{second['id']}/cancel", json={"version": 1}, headers=hz_officer
    )
    assert wrong_version.status_code == 412


async def test_an_update_keeps_the_two_scales_apart(client: httpx.AsyncClient, hz_officer: Headers) -> None:
    first = (await post_report(client, hz_officer))["event"]
    mixed = await client.post(
        f"/api/risk/events/{first['id']}/update",
        json={"kind": "event", "warning_level": 2},
        headers=hz_officer,
    )
    assert mixed.status_code == 422 and mixed.json()["error"]["code"] == "level_and_grade"
    happened = await client.post(
        f"/api/risk/events/{first['id']}/update", json={"kind": "event", "grade": 2}, headers=hz_officer
    )
    assert happened.status_code == 200
    event = happened.json()["event"]
    assert (event["kind"], event["warning_level"], event["grade"], event["severity"]) == (
        "event",
        None,
        2,
        "Severe",
    )


async def test_another_city_cannot_update_or_cancel(
    client: httpx.AsyncClient, hz_officer: Headers, make_headers
) -> None:  # type: ignore[no-untyped-def]
    first = (await post_report(client, hz_officer))["event"]
    ningbo = await make_headers(Role.city_officer, scope="330200")
    for path, body in (("update", {"warning_level": 1}), ("cancel", {})):
        response = await client.post(f"/api/risk/events/{first['id']}/{path}", json=body, headers=ningbo)
        assert response.status_code == 403


@pytest.mark.parametrize("writers", [8])
async def test_concurrent_updates_of_one_version_leave_exactly_one_new_version(
    client: httpx.AsyncClient, db: Database, hz_officer: Headers, shared_index: IndexHolder, writers: int
) -> None:
    first = (await post_report(client, hz_officer))["event"]

    async def update_as_one_writer(level: int) -> object:
        async with db.sessionmaker() as session:
            return await service.update(
                session=session,
                principal=HZ,
                holder=shared_index,
                event_id=first["id"],
                data=UpdateIn(warning_level=level % 4 + 1),
                source=Source.api,
            )

    results = await asyncio.gather(*(update_as_one_writer(i) for i in range(writers)), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results
    assert all(isinstance(r, errors.StaleVersion) for r in lost), lost
    chain = await stored_events(db)
    assert [(e.version, e.status) for e in chain] == [(1, "superseded"), (2, "active")]
    assert [p["change"] for p in await outbox_payloads(db)] == ["reported", "updated"]
