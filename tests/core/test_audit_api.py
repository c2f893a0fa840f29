"""Reading the audit trail (GET /api/audit/entries): platform-wide oversight only, and each read is audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from regio.core import audit
from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.deps import current_principal

READERS = {Role.regulator, Role.platform_admin}


def person(
    role: Role, user_id: int = 90, scope: tuple[ScopeKind, str] = (ScopeKind.platform, "")
) -> Principal:
    return Principal(
        user_id=user_id, username=f"{role}-{user_id}", grants=frozenset({RoleGrant(role, *scope)})
    )


@pytest.mark.parametrize("role", list(Role))
def test_only_platform_wide_oversight_roles_may_read_the_trail(role: Role) -> None:
    assert audit.may_read_trail(person(role)) is (role in READERS)


# Every role in every kind of scope narrower than the platform: none reads the trail, because
# entries do not carry a region yet and a regional reader would see every region's.
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(
    "scope",
    [
        (ScopeKind.region, "330000"),
        (ScopeKind.hospital, "7"),
        (ScopeKind.jurisdiction, "330100"),
        (ScopeKind.coordination_body, "1"),
        (ScopeKind.platform, "330000"),
    ],
)
def test_a_role_held_in_a_narrower_scope_never_reads_the_trail(
    role: Role, scope: tuple[ScopeKind, str]
) -> None:
    assert audit.may_read_trail(person(role, scope=scope)) is False


def test_reading_the_trail_is_denied_by_default() -> None:
    assert audit.may_read_trail(ANONYMOUS) is False
    assert audit.may_read_trail(Principal(user_id=1, username="nobody")) is False


def test_a_regional_reader_gains_nothing_from_a_second_regional_role() -> None:
    regional = Principal(
        user_id=5,
        username="regional",
        grants=frozenset(
            {
                RoleGrant(Role.regulator, ScopeKind.region, "330000"),
                RoleGrant(Role.health_admin, ScopeKind.region, "330000"),
            }
        ),
    )
    assert audit.may_read_trail(regional) is False


def test_an_institution_system_with_a_regulator_grant_may_read() -> None:
    client = Principal(
        user_id=None, client_id=3, username="audit-feed", grants=frozenset({RoleGrant(Role.regulator)})
    )
    assert audit.may_read_trail(client)


@pytest.fixture
def api(app: FastAPI) -> FastAPI:
    return app


def act_as(app: FastAPI, principal: Principal) -> None:
    app.dependency_overrides[current_principal] = lambda: principal


async def seed(db: Database) -> None:
    writer = person(Role.doctor, user_id=7)
    other = person(Role.pharmacist, user_id=8)
    async with db.sessionmaker() as session, session.begin():
        for number in range(1, 6):
            await audit.record(session, writer, "patient.read", object_type="patient", object_id=number)
        await audit.record(session, other, "prescription.review", object_type="prescription", object_id=1)
        await audit.record(session, other, "patient.read", object_type="patient", object_id=3)


async def all_entries(db: Database) -> list[AuditEntry]:
    async with db.sessionmaker() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def get(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get("/api/audit/entries", params=params)


@pytest.mark.parametrize("role", sorted(READERS))
async def test_each_reader_role_gets_the_entries_newest_first(
    api: FastAPI, client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await seed(db)
    act_as(api, person(role))
    response = await get(client)
    assert response.status_code == 200, response.text
    ids = [item["id"] for item in response.json()["items"]]
    assert len(ids) == 7 and ids == sorted(ids, reverse=True)


@pytest.mark.parametrize("role", sorted(set(Role) - READERS))
async def test_every_other_role_is_refused_and_the_attempt_is_audited(
    api: FastAPI, client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    act_as(api, person(role, user_id=55))
    response = await get(client, object_type="patient")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden" and error["message_zh"] and error["message_en"]
    [attempt] = await all_entries(db)
    assert (attempt.action, attempt.actor_user_id) == ("audit.read_denied", 55)
    assert attempt.details == {"filters": {"object_type": "patient"}}


@pytest.mark.parametrize("role", [Role.regulator, Role.health_admin])
async def test_a_region_scoped_reader_is_refused_403_and_the_attempt_is_audited(
    api: FastAPI, client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await seed(db)
    act_as(api, person(role, user_id=66, scope=(ScopeKind.region, "330000")))
    response = await get(client)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    attempt = (await all_entries(db))[-1]
    assert (attempt.action, attempt.actor_user_id) == ("audit.read_denied", 66)


async def test_without_a_sign_in_the_trail_answers_401(api: FastAPI, client: httpx.AsyncClient) -> None:
    response = await get(client)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_filters_by_object_actor_and_action(
    api: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await seed(db)
    act_as(api, person(Role.regulator))
    by_object = (await get(client, object_type="patient", object_id="3")).json()["items"]
    assert sorted(item["actor_user_id"] for item in by_object) == [7, 8]
    by_actor = (await get(client, actor_user_id=8)).json()["items"]
    assert {item["action"] for item in by_actor} == {"prescription.review", "patient.read"}
    by_action = (await get(client, action="prescription.review")).json()["items"]
    assert [(item["object_type"], item["object_id"]) for item in by_action] == [("prescription", "1")]
    by_name = (await get(client, actor_username="pharmacist-8", action="patient.read")).json()["items"]
    assert [item["object_id"] for item in by_name] == ["3"]


async def test_pages_follow_the_before_id_cursor_to_the_end(
    api: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await seed(db)
    act_as(api, person(Role.platform_admin))
    seen: list[int] = []
    before: int | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3, "object_type": "patient"}
        if before is not None:
            params["before_id"] = before
        page = (await get(client, **params)).json()
        seen += [item["id"] for item in page["items"]]
        before = page["next_before_id"]
        if before is None:
            break
    assert len(seen) == 6 and seen == sorted(seen, reverse=True) and len(set(seen)) == 6


async def test_each_read_of_the_trail_is_itself_an_audit_entry(
    api: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await seed(db)
    act_as(api, person(Role.regulator, user_id=99))
    response = await client.get(
        "/api/audit/entries", params={"object_type": "patient"}, headers={"User-Agent": "oversight-tool/2"}
    )
    assert response.status_code == 200
    read = (await all_entries(db))[-1]
    assert (read.action, read.actor_user_id, read.roles) == ("audit.read", 99, ["regulator"])
    assert read.details == {"filters": {"object_type": "patient"}, "returned": 6}
    assert read.request_id == response.headers["X-Request-ID"]
    assert read.user_agent == "oversight-tool/2"


async def test_out_of_range_paging_is_a_validation_error_not_a_crash(
    api: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    act_as(api, person(Role.regulator))
    for params in ({"limit": 0}, {"limit": 1000}, {"before_id": -1}, {"actor_user_id": "x"}):
        response = await get(client, **params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "validation_error"
    assert await all_entries(db) == []
