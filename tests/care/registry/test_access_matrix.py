"""Access matrix: every role × action × own/other record, decided by the one pure function."""

from __future__ import annotations

import pytest

from regio.care.registry.policies import Action, HospitalRef, may, visibility
from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind

OWN = HospitalRef(id=7, region_adcode="330000")  # hospital 7 in Zhejiang
OTHER = HospitalRef(id=8, region_adcode="320000")  # hospital 8 in Jiangsu
NEW_OWN_REGION = HospitalRef(id=None, region_adcode="330000")
NEW_OTHER_REGION = HospitalRef(id=None, region_adcode="320000")


def _p(role: Role, kind: ScopeKind = ScopeKind.platform, scope: str = "") -> Principal:
    return Principal(user_id=1, username=role.value, grants=frozenset({RoleGrant(role, kind, scope)}))


PRINCIPALS = {
    "visitor": ANONYMOUS,
    "patient": _p(Role.patient),
    "doctor": _p(Role.doctor, ScopeKind.hospital, "7"),
    "pharmacist": _p(Role.pharmacist, ScopeKind.hospital, "7"),
    "hospital_admin": _p(Role.hospital_admin, ScopeKind.hospital, "7"),
    "health_admin": _p(Role.health_admin, ScopeKind.region, "330000"),
    "regulator": _p(Role.regulator),
    "city_officer": _p(Role.city_officer, ScopeKind.jurisdiction, "330100"),
    "coordinator": _p(Role.coordinator),
    "evaluator": _p(Role.evaluator),
    "platform_admin": _p(Role.platform_admin),
}

A = Action
# For each role: the (action, record) pairs it is allowed; every other pair must be denied.
ALLOWED: dict[str, set[tuple[Action, str]]] = {
    "visitor": set(),
    "patient": set(),
    "doctor": set(),
    "pharmacist": set(),
    "city_officer": set(),
    "coordinator": set(),
    "evaluator": set(),
    "hospital_admin": {
        (A.read_unlisted, "own"),
        (A.see_licence_numbers, "own"),
        (A.manage_departments, "own"),
        (A.manage_staff, "own"),
    },
    "health_admin": {
        (A.read_unlisted, "own"),
        (A.see_licence_numbers, "own"),
        (A.create_hospital, "own"),
        (A.update_hospital, "own"),
        (A.manage_departments, "own"),
    },
    "regulator": {
        (A.read_unlisted, "own"),
        (A.read_unlisted, "other"),
        (A.see_licence_numbers, "own"),
        (A.see_licence_numbers, "other"),
    },
    "platform_admin": {(action, record) for action in Action for record in ("own", "other")},
}

WRITE_ACTIONS = [A.create_hospital, A.update_hospital, A.manage_departments, A.manage_staff]
RESTRICTED = [a for a in Action if a is not A.read_public]


def _target(action: Action, record: str) -> HospitalRef:
    if action is A.create_hospital:
        return NEW_OWN_REGION if record == "own" else NEW_OTHER_REGION
    return OWN if record == "own" else OTHER


@pytest.mark.parametrize("role", sorted(PRINCIPALS))
@pytest.mark.parametrize("action", RESTRICTED, ids=lambda a: a.value)
@pytest.mark.parametrize("record", ["own", "other"])
def test_access_matrix(role: str, action: Action, record: str) -> None:
    expected = (action, record) in ALLOWED[role]
    assert may(PRINCIPALS[role], action, _target(action, record)) is expected


@pytest.mark.parametrize("role", sorted(PRINCIPALS))
def test_everyone_including_visitors_reads_the_public_portal(role: str) -> None:
    assert may(PRINCIPALS[role], A.read_public, OTHER)


@pytest.mark.parametrize("action", WRITE_ACTIONS, ids=lambda a: a.value)
def test_the_regulator_reads_everything_but_writes_nothing(action: Action) -> None:
    assert not may(PRINCIPALS["regulator"], action, OWN)
    assert not may(PRINCIPALS["regulator"], action, OTHER)


def test_a_hospital_admin_scope_is_a_hospital_not_a_region() -> None:
    # a hospital_admin grant with a region-shaped scope grants nothing
    odd = _p(Role.hospital_admin, ScopeKind.region, "330000")
    assert not any(may(odd, action, OWN) for action in RESTRICTED)


@pytest.mark.parametrize("action", RESTRICTED, ids=lambda a: a.value)
def test_without_a_target_record_only_the_operator_is_allowed(action: Action) -> None:
    assert may(PRINCIPALS["platform_admin"], action, None)
    for role in ("health_admin", "hospital_admin", "regulator", "patient"):
        assert not may(PRINCIPALS[role], action, None)


def test_visibility_of_unlisted_hospitals_follows_the_scopes() -> None:
    assert visibility(PRINCIPALS["regulator"]).everything
    assert visibility(PRINCIPALS["health_admin"]).regions == {"330000"}
    assert visibility(PRINCIPALS["hospital_admin"]).hospital_ids == {7}
    assert not visibility(PRINCIPALS["patient"]).anything_unlisted
    assert not visibility(ANONYMOUS).anything_unlisted
