"""Who may grant and revoke which role where: one pure policy, a full matrix, and the API on top."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core import audit
from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind
from regio.core.identity import policies, scopes, service
from regio.core.identity.errors import GrantExists
from regio.core.identity.models import RoleAssignment
from tests.factories import make_api_client, make_user, principal_for, token_headers

# Hospital 1 lies in Hangzhou (Zhejiang), hospital 2 in Nanjing (Jiangsu).
HOSPITAL_PLACES = {"1": "330100", "2": "320100"}
OWN, OTHER = "1", "2"


def _actor(grant: RoleGrant | None) -> Principal:
    if grant is None:
        return ANONYMOUS
    return Principal(user_id=100, username="actor", grants=frozenset({grant}))


ACTORS: dict[str, RoleGrant | None] = {
    "platform_admin": RoleGrant(Role.platform_admin),
    "health_admin": RoleGrant(Role.health_admin, ScopeKind.region, "330000"),
    "hospital_admin": RoleGrant(Role.hospital_admin, ScopeKind.hospital, OWN),
    "doctor": RoleGrant(Role.doctor, ScopeKind.hospital, OWN),
    "pharmacist": RoleGrant(Role.pharmacist, ScopeKind.hospital, OWN),
    "patient": RoleGrant(Role.patient),
    "city_officer": RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100"),
    "coordinator": RoleGrant(Role.coordinator, ScopeKind.coordination_body, "1"),
    "evaluator": RoleGrant(Role.evaluator),
    "regulator": RoleGrant(Role.regulator, ScopeKind.region, "330000"),
    "anonymous": None,
}

TARGETS: dict[str, RoleGrant] = {
    "doctor@own": RoleGrant(Role.doctor, ScopeKind.hospital, OWN),
    "doctor@other": RoleGrant(Role.doctor, ScopeKind.hospital, OTHER),
    "pharmacist@own": RoleGrant(Role.pharmacist, ScopeKind.hospital, OWN),
    "pharmacist@other": RoleGrant(Role.pharmacist, ScopeKind.hospital, OTHER),
    "hospital_admin@own": RoleGrant(Role.hospital_admin, ScopeKind.hospital, OWN),
    "hospital_admin@other": RoleGrant(Role.hospital_admin, ScopeKind.hospital, OTHER),
    "health_admin@region": RoleGrant(Role.health_admin, ScopeKind.region, "330000"),
    "city_officer@city": RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100"),
    "platform_admin": RoleGrant(Role.platform_admin),
    "patient": RoleGrant(Role.patient),
}

ALLOWED = {
    "platform_admin": set(TARGETS),
    "health_admin": {"hospital_admin@own"},
    "hospital_admin": {"doctor@own", "pharmacist@own"},
}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_grant_policy_matrix(actor: str, target: str):
    grant = TARGETS[target]
    place = HOSPITAL_PLACES.get(grant.scope_id) if grant.scope_kind == ScopeKind.hospital else grant.scope_id
    decided = policies.may_manage_grant(_actor(ACTORS[actor]), grant, scope_region=place)
    assert decided == (target in ALLOWED.get(actor, set()))


def test_a_health_admin_may_not_grant_hospital_admin_where_the_hospital_place_is_unknown():
    grant = TARGETS["hospital_admin@own"]
    assert not policies.may_manage_grant(_actor(ACTORS["health_admin"]), grant, scope_region=None)


def test_a_city_level_health_admin_covers_only_its_city():
    actor = _actor(RoleGrant(Role.health_admin, ScopeKind.region, "330100"))
    grant = TARGETS["hospital_admin@own"]
    assert policies.may_manage_grant(actor, grant, scope_region="330106")
    assert not policies.may_manage_grant(actor, grant, scope_region="330200")


def test_a_hospital_admin_of_another_hospital_is_not_admin_here():
    actor = _actor(RoleGrant(Role.hospital_admin, ScopeKind.hospital, OTHER))
    assert not policies.may_manage_grant(actor, TARGETS["doctor@own"])


@pytest.fixture
async def hospital_places() -> AsyncIterator[None]:
    async def place(_session: AsyncSession, scope_id: str) -> str | None:
        return HOSPITAL_PLACES.get(scope_id)

    before = scopes._resolvers.get(ScopeKind.hospital)
    scopes.register_place_resolver(ScopeKind.hospital, place)
    yield
    # put back what the application registered (the registry's resolver), or nothing
    if before is None:
        scopes.unregister_place_resolver(ScopeKind.hospital)
    else:
        scopes.register_place_resolver(ScopeKind.hospital, before)


@pytest.fixture
def audited(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    real = audit.record

    async def spy(session, principal, action, **kwargs):  # type: ignore[no-untyped-def]
        entries.append({"actor": principal.username, "action": action, **kwargs})
        await real(session, principal, action, **kwargs)

    monkeypatch.setattr(audit, "record", spy)
    return entries


def _body(username: str, grant: RoleGrant) -> dict[str, str]:
    return {
        "username": username,
        "role": grant.role.value,
        "scope_kind": grant.scope_kind.value,
        "scope_id": grant.scope_id,
    }


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        ("health_admin", "hospital_admin@own", 201),
        ("health_admin", "hospital_admin@other", 403),
        ("health_admin", "doctor@own", 403),
        ("hospital_admin", "doctor@own", 201),
        ("hospital_admin", "pharmacist@own", 201),
        ("hospital_admin", "doctor@other", 403),
        ("hospital_admin", "hospital_admin@own", 403),
        ("doctor", "doctor@own", 403),
        ("patient", "patient", 403),
        ("platform_admin", "health_admin@region", 201),
    ],
)
async def test_granting_through_the_api_follows_the_policy_and_is_audited(
    db, client, settings, hospital_places, audited, actor: str, target: str, status: int
):
    grant_of_actor = ACTORS[actor]
    assert grant_of_actor is not None
    admin = await make_user(db, username="granter", roles=[grant_of_actor])
    await make_user(db, username="grantee")
    response = await client.post(
        "/api/admin/role-grants",
        json=_body("grantee", TARGETS[target]),
        headers=token_headers(settings, admin),
    )
    assert response.status_code == status, response.text
    async with db.session() as session:
        held = (
            await session.execute(
                select(RoleAssignment).where(RoleAssignment.role == TARGETS[target].role.value)
            )
        ).scalars()
        holders = {row.user_id for row in held}
    grantee_holds = any(uid != admin.id for uid in holders)
    if status == 201:
        assert grantee_holds
        assert [e["action"] for e in audited if e["action"].startswith("role.")] == ["role.grant"]
        entry = next(e for e in audited if e["action"] == "role.grant")
        assert entry["actor"] == "granter"
        assert entry["details"]["role"] == TARGETS[target].role.value
    else:
        assert response.json()["error"]["code"] == "grant_not_allowed"
        assert not grantee_holds
        assert not [e for e in audited if e["action"].startswith("role.")]


async def test_a_revoke_follows_the_same_policy_and_takes_effect_at_once(
    db, client, settings, hospital_places, audited
):
    admin = await make_user(db, username="hadmin", roles=[ACTORS["hospital_admin"]])
    other_admin = await make_user(
        db, username="hadmin2", roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, OTHER)]
    )
    doctor = await make_user(db, username="docrev", roles=[TARGETS["doctor@own"]])
    body = _body("docrev", TARGETS["doctor@own"])
    refused = await client.request(
        "DELETE", "/api/admin/role-grants", json=body, headers=token_headers(settings, other_admin)
    )
    assert refused.status_code == 403
    doctor_headers = token_headers(settings, doctor)
    assert (await client.get("/api/auth/me", headers=doctor_headers)).json()["roles"]
    done = await client.request(
        "DELETE", "/api/admin/role-grants", json=body, headers=token_headers(settings, admin)
    )
    assert done.status_code == 204
    assert (await client.get("/api/auth/me", headers=doctor_headers)).json()["roles"] == []
    assert [e["action"] for e in audited if e["action"].startswith("role.")] == ["role.revoke"]
    again = await client.request(
        "DELETE", "/api/admin/role-grants", json=body, headers=token_headers(settings, admin)
    )
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "grant_not_found"


async def test_a_role_can_be_granted_to_an_institution_system(db, client, settings):
    admin = await make_user(db, username="padmin", roles=[Role.platform_admin])
    client_id, _ = await make_api_client(db)
    response = await client.post(
        "/api/admin/role-grants",
        json={"client_id": client_id, "role": "hospital_admin", "scope_kind": "hospital", "scope_id": "9"},
        headers=token_headers(settings, admin),
    )
    assert response.status_code == 201
    assert response.json()["client_id"] == client_id


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"role": "doctor", "scope_kind": "hospital", "scope_id": "1"}, 422, "grant_holder_invalid"),
        (
            {"username": "x", "client_id": "y", "role": "doctor", "scope_kind": "hospital", "scope_id": "1"},
            422,
            "grant_holder_invalid",
        ),
        ({"username": "target", "role": "doctor", "scope_kind": "platform"}, 422, "grant_scope_invalid"),
        (
            {"username": "target", "role": "doctor", "scope_kind": "hospital", "scope_id": " "},
            422,
            "grant_scope_invalid",
        ),
        (
            {"username": "target", "role": "patient", "scope_kind": "platform", "scope_id": "3"},
            422,
            "grant_scope_invalid",
        ),
        ({"username": "target", "role": "wizard", "scope_kind": "platform"}, 422, "validation_error"),
        ({"username": "nobody", "role": "patient", "scope_kind": "platform"}, 404, "holder_not_found"),
    ],
)
async def test_bad_grant_requests_get_clear_errors_and_change_nothing(
    db, client, settings, body: dict[str, str], status: int, code: str
):
    admin = await make_user(db, username="padmin", roles=[Role.platform_admin])
    await make_user(db, username="target")
    response = await client.post("/api/admin/role-grants", json=body, headers=token_headers(settings, admin))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    async with db.session() as session:
        rows = (await session.execute(select(RoleAssignment))).scalars().all()
    assert [(r.user_id, r.role) for r in rows] == [(admin.id, "platform_admin")]


async def test_a_grant_twice_is_a_conflict(db, client, settings):
    admin = await make_user(db, username="padmin", roles=[Role.platform_admin])
    await make_user(db, username="twice")
    body = {"username": "twice", "role": "patient", "scope_kind": "platform", "scope_id": ""}
    first = await client.post("/api/admin/role-grants", json=body, headers=token_headers(settings, admin))
    second = await client.post("/api/admin/role-grants", json=body, headers=token_headers(settings, admin))
    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json()["error"]["code"] == "grant_exists"


async def test_racing_identical_grants_give_exactly_one_assignment(db):
    admin = await make_user(db, username="padmin", roles=[Role.platform_admin])
    target = await make_user(db, username="raced")
    actor = principal_for(admin, [Role.platform_admin])
    grant = RoleGrant(Role.doctor, ScopeKind.hospital, "5")

    async def give() -> object:
        async with db.session() as session:
            try:
                return await service.grant_role(
                    session=session, principal=actor, grant=grant, username="raced"
                )
            except GrantExists as exc:
                return exc

    # return_exceptions: every task ends (and releases its row locks) before the test judges them.
    outcomes = await asyncio.gather(*(give() for _ in range(8)), return_exceptions=True)
    assert sum(o == grant for o in outcomes) == 1
    assert sum(isinstance(o, GrantExists) for o in outcomes) == 7
    async with db.session() as session:
        rows = (
            await session.execute(select(RoleAssignment).where(RoleAssignment.user_id == target.id))
        ).all()
    assert len(rows) == 1


async def test_granting_needs_a_signed_in_principal(client):
    response = await client.post(
        "/api/admin/role-grants", json={"username": "x", "role": "patient", "scope_kind": "platform"}
    )
    assert response.status_code == 401
