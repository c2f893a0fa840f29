"""The booking access decision, role by role and action by action: anything not listed is denied."""

from __future__ import annotations

import pytest

from regio.care.booking.policies import Action, Target, could_ever, may
from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind

HOSPITAL = 7
OTHER_HOSPITAL = 8
DOCTOR = 70
TARGET = Target(hospital_id=HOSPITAL, region_adcode="330000", doctor_id=DOCTOR)


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
    "own_hospital_admin": who(Role.hospital_admin, ScopeKind.hospital, str(HOSPITAL)),
    "other_hospital_admin": who(Role.hospital_admin, ScopeKind.hospital, str(OTHER_HOSPITAL)),
    "region_health_admin": who(Role.health_admin, ScopeKind.region, "330000"),
    "other_region_health_admin": who(Role.health_admin, ScopeKind.region, "320000"),
    "regulator": who(Role.regulator),
    "the_doctor": who(Role.doctor, ScopeKind.hospital, str(HOSPITAL)),
    "another_doctor": who(Role.doctor, ScopeKind.hospital, str(HOSPITAL)),
    "patient": who(Role.patient),
    "pharmacist": who(Role.pharmacist, ScopeKind.hospital, str(HOSPITAL)),
    "city_officer": who(Role.city_officer, ScopeKind.jurisdiction, "330100"),
    "anonymous": ANONYMOUS,
}
OWN_DOCTOR = {"the_doctor": DOCTOR, "another_doctor": DOCTOR + 1}

ALLOWED: dict[Action, set[str]] = {
    Action.read_roster: {"platform_admin", "own_hospital_admin", "region_health_admin", "regulator"},
    Action.read_coverage: {"platform_admin", "own_hospital_admin", "region_health_admin", "regulator"},
    Action.manage_roster: {"platform_admin", "own_hospital_admin"},
    Action.grant_extra: {"platform_admin", "own_hospital_admin", "the_doctor"},
    Action.mark_no_show: {"platform_admin", "own_hospital_admin", "the_doctor"},
    Action.record_leave: {"platform_admin", "own_hospital_admin", "the_doctor"},
    Action.read_schedule: {"platform_admin", "own_hospital_admin", "the_doctor"},
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_the_access_matrix(name: str, action: Action) -> None:
    decided = may(PRINCIPALS[name], action, TARGET, own_doctor_id=OWN_DOCTOR.get(name))
    assert decided is (name in ALLOWED[action])
    if decided:
        assert could_ever(PRINCIPALS[name], action)


def test_every_action_is_in_the_matrix() -> None:
    assert set(ALLOWED) == set(Action)


def test_a_doctor_account_of_an_institution_system_cannot_act_as_the_doctor() -> None:
    system = who(Role.doctor, ScopeKind.hospital, str(HOSPITAL), person=False)
    assert not may(system, Action.grant_extra, TARGET, own_doctor_id=DOCTOR)


def test_a_hospital_admin_acts_on_no_hospital_when_the_target_names_none() -> None:
    admin = PRINCIPALS["own_hospital_admin"]
    assert not may(admin, Action.manage_roster, Target(hospital_id=None, doctor_id=DOCTOR))
