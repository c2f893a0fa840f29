"""Who may do what with a report, role by role and action by action: anything not listed is denied."""

from __future__ import annotations

import httpx
import pytest

from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind
from regio.risk.events.policies import Action, Target, contains, could_ever, may
from tests.risk.events.fixtures import WENZHOU_POLYGON, Headers, MakeOfficer, post_report

# A report from Hangzhou (330100), which sits in the Yangtze River Delta and Hangzhou metropolitan bodies.
TARGET = Target(origin_adcode="330100", bodies=frozenset({"yangtze-river-delta", "hangzhou-metropolitan"}))


def who(
    role: Role, kind: ScopeKind = ScopeKind.platform, scope: str = "", *, person: bool = True
) -> Principal:
    return Principal(
        user_id=1 if person else None,
        client_id=None if person else 5,
        username=role.value,
        grants=frozenset({RoleGrant(role, kind, scope)}),
    )


PRINCIPALS = {
    "platform_admin": who(Role.platform_admin),
    "hangzhou_officer": who(Role.city_officer, ScopeKind.jurisdiction, "330100"),
    "hangzhou_system": who(Role.city_officer, ScopeKind.jurisdiction, "330100", person=False),
    "zhejiang_officer": who(Role.city_officer, ScopeKind.jurisdiction, "330000"),
    "xihu_county_officer": who(Role.city_officer, ScopeKind.jurisdiction, "330106"),
    "huzhou_officer_same_body": who(Role.city_officer, ScopeKind.jurisdiction, "330500"),
    "guangzhou_officer": who(Role.city_officer, ScopeKind.jurisdiction, "440100"),
    "body_coordinator": who(Role.coordinator, ScopeKind.coordination_body, "hangzhou-metropolitan"),
    "other_coordinator": who(Role.coordinator, ScopeKind.coordination_body, "greater-bay-area"),
    "regulator": who(Role.regulator),
    "evaluator": who(Role.evaluator),
    "doctor": who(Role.doctor, ScopeKind.hospital, "7"),
    "patient": who(Role.patient),
    "health_admin": who(Role.health_admin, ScopeKind.region, "330000"),
    "anonymous": ANONYMOUS,
}
# The bodies each principal's own jurisdictions belong to (the service looks them up).
OWN_BODIES = {
    "hangzhou_officer": frozenset({"yangtze-river-delta", "hangzhou-metropolitan"}),
    "hangzhou_system": frozenset({"yangtze-river-delta", "hangzhou-metropolitan"}),
    "zhejiang_officer": frozenset({"yangtze-river-delta"}),
    "xihu_county_officer": frozenset({"yangtze-river-delta", "hangzhou-metropolitan"}),
    "huzhou_officer_same_body": frozenset({"yangtze-river-delta", "hangzhou-metropolitan"}),
    "guangzhou_officer": frozenset({"greater-bay-area"}),
}
WRITERS = {"platform_admin", "hangzhou_officer", "hangzhou_system", "zhejiang_officer"}
ALLOWED: dict[Action, set[str]] = {
    Action.read: WRITERS
    | {"xihu_county_officer", "huzhou_officer_same_body", "body_coordinator", "regulator", "evaluator"},
    Action.report: WRITERS,
    Action.update: WRITERS,
    Action.cancel: WRITERS,
    Action.merge: WRITERS | {"body_coordinator"},
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_the_access_matrix(name: str, action: Action) -> None:
    decided = may(PRINCIPALS[name], action, TARGET, principal_bodies=OWN_BODIES.get(name, frozenset()))
    assert decided is (name in ALLOWED[action])
    if decided:
        assert could_ever(PRINCIPALS[name], action)


def test_every_action_is_in_the_matrix() -> None:
    assert set(ALLOWED) == set(Action)


@pytest.mark.parametrize(
    "scope,adcode,inside",
    [
        ("330000", "330106", True),
        ("330000", "320100", False),
        ("330100", "330106", True),
        ("330100", "330200", False),
        ("330106", "330106", True),
        ("330106", "330100", False),
        ("441900", "441900", True),  # Dongguan, a prefecture with no counties
        ("33", "330100", False),
    ],
)
def test_a_jurisdiction_contains_what_its_code_prefix_contains(scope: str, adcode: str, inside: bool) -> None:
    assert contains(scope, adcode) is inside


async def test_each_officer_lists_the_reports_they_may_read_and_no_others(
    client: httpx.AsyncClient, hz_officer: Headers, make_headers: MakeOfficer
) -> None:
    hangzhou = (await post_report(client, hz_officer))["event"]
    wenzhou_officer = await make_headers(Role.city_officer, scope="330300")
    wenzhou = (
        await post_report(
            client, wenzhou_officer, origin_adcode="330300", area={"cap_polygons": [WENZHOU_POLYGON]}
        )
    )["event"]

    async def listed(headers: Headers) -> set[int]:
        response = await client.get("/api/risk/events", headers=headers)
        assert response.status_code == 200, response.text
        return {e["id"] for e in response.json()["events"]}

    huzhou = await make_headers(Role.city_officer, scope="330500")  # shares the Hangzhou metropolitan body
    guangzhou = await make_headers(Role.city_officer, scope="440100")
    coordinator = await make_headers(Role.coordinator, scope="hangzhou-metropolitan")
    regulator = await make_headers(Role.regulator)
    patient = await make_headers(Role.patient)
    # both in the Yangtze River Delta body, so each city sees the other's report
    assert await listed(hz_officer) == {hangzhou["id"], wenzhou["id"]}
    assert await listed(huzhou) == {hangzhou["id"], wenzhou["id"]}
    assert await listed(coordinator) == {hangzhou["id"]}  # Wenzhou is not in the Hangzhou metropolitan body
    assert await listed(guangzhou) == set()
    assert await listed(regulator) == {hangzhou["id"], wenzhou["id"]}
    assert (await client.get("/api/risk/events", headers=patient)).status_code == 403
    assert (await client.get(f"/api/risk/events/{hangzhou['id']}", headers=guangzhou)).status_code == 403
    assert (await client.get(f"/api/risk/events/{hangzhou['id']}", headers=coordinator)).status_code == 200
