"""The records access decision, role by role and action by action: anything not listed is denied."""

from __future__ import annotations

import pytest

from regio.care.records.policies import Action, Facts, Target, may
from regio.core.access import ANONYMOUS, SYSTEM, Principal, Role, RoleGrant, ScopeKind

HOSPITAL = 7
DOCTOR = 70
PATIENT = 700
TARGET = Target(doctor_id=DOCTOR, hospital_id=HOSPITAL, region_adcode="330000", patient_id=PATIENT)


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
    "the_doctor": who(Role.doctor, ScopeKind.hospital, str(HOSPITAL)),
    "another_doctor": who(Role.doctor, ScopeKind.hospital, str(HOSPITAL)),
    "the_patient_side": who(Role.patient),
    "another_patient": who(Role.patient),
    "own_hospital_admin": who(Role.hospital_admin, ScopeKind.hospital, str(HOSPITAL)),
    "other_hospital_admin": who(Role.hospital_admin, ScopeKind.hospital, "8"),
    "region_health_admin": who(Role.health_admin, ScopeKind.region, "330000"),
    "other_region_health_admin": who(Role.health_admin, ScopeKind.region, "320000"),
    "regulator": who(Role.regulator),
    "platform_admin": who(Role.platform_admin),
    "pharmacist": who(Role.pharmacist, ScopeKind.hospital, str(HOSPITAL)),
    "city_officer": who(Role.city_officer, ScopeKind.jurisdiction, "330100"),
    "anonymous": ANONYMOUS,
}
FACTS = {
    "the_doctor": Facts(own_doctor_id=DOCTOR),
    "another_doctor": Facts(own_doctor_id=DOCTOR + 1),
    "the_patient_side": Facts(actable_patient_ids=frozenset({PATIENT})),
    "another_patient": Facts(actable_patient_ids=frozenset({PATIENT + 1})),
}

ALLOWED: dict[Action, set[str]] = {
    Action.write: {"the_doctor"},
    Action.read_draft: {"the_doctor"},
    Action.confirm_prior: {"the_doctor"},
    Action.read_signed: {"the_doctor", "the_patient_side", "own_hospital_admin"},
    Action.read_priors: {"the_doctor", "the_patient_side"},
    Action.add_prior_upload: {"the_patient_side"},
    Action.add_prior_hospital_record: {"own_hospital_admin", "platform_admin"},
    Action.delete: {"platform_admin"},
    Action.list_policies: {"region_health_admin", "other_region_health_admin", "regulator", "platform_admin"},
    Action.manage_policies: {"region_health_admin", "platform_admin"},
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_the_access_matrix(name: str, action: Action) -> None:
    assert may(PRINCIPALS[name], action, TARGET, FACTS.get(name, Facts())) is (name in ALLOWED[action])


def test_every_action_is_in_the_matrix() -> None:
    assert set(ALLOWED) == set(Action)


def test_an_institution_system_holding_the_doctor_role_does_not_write_as_the_doctor() -> None:
    system = who(Role.doctor, ScopeKind.hospital, str(HOSPITAL), person=False)
    assert not may(system, Action.write, TARGET, Facts(own_doctor_id=DOCTOR))


def test_the_platform_itself_neither_writes_nor_reads_a_record() -> None:
    for action in (Action.write, Action.read_draft, Action.read_signed):
        assert not may(SYSTEM, action, TARGET)


def test_a_doctor_without_a_doctor_record_writes_nothing() -> None:
    assert not may(PRINCIPALS["the_doctor"], Action.write, Target(doctor_id=None), Facts(own_doctor_id=None))
