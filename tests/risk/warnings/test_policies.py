"""The pure rules: SLAs by level, the level above, the body's capacity, who answers for what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind
from regio.risk.warnings import policies
from regio.risk.warnings.policies import Action, Target


def person(*grants: RoleGrant) -> Principal:
    return Principal(user_id=1, username="p", grants=frozenset(grants))


HZ = RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100")
YRD = RoleGrant(Role.coordinator, ScopeKind.coordination_body, "yangtze-river-delta")


def test_the_sla_is_read_per_level_from_the_setting() -> None:
    minutes = policies.parse_sla_minutes("15,60,240,1440")
    assert policies.ack_sla(minutes, 1) == timedelta(minutes=15)
    assert policies.ack_sla(minutes, 4) == timedelta(hours=24)
    with pytest.raises(ValueError):
        policies.parse_sla_minutes("15,60,0,1440")


@pytest.mark.parametrize(
    ("kind", "level", "exceeds"),
    [
        ("event", 1, True),
        ("event", 2, True),
        ("event", 3, False),
        ("event", 4, False),
        ("risk", 1, True),
        ("risk", 2, False),
        ("risk", 4, False),
    ],
)
def test_grade_i_or_ii_or_a_red_warning_exceeds_the_bodys_capacity(
    kind: str, level: int, exceeds: bool
) -> None:
    assert policies.exceeds_body_capacity(kind, level) is exceeds


def test_the_level_above_follows_the_adcode() -> None:
    assert policies.level_above("county", "330106") == ("prefecture", "330100")
    assert policies.level_above("prefecture", "330100") == ("province", "330000")
    assert policies.level_above("county", "310104") == ("province", "310000")  # Shanghai's districts
    assert policies.level_above("province", "330000") is None


def test_an_officer_answers_for_its_adcode_at_every_level_and_a_coordinator_for_its_body() -> None:
    assert policies.audiences(person(HZ)) == {"province:330100", "prefecture:330100", "county:330100"}
    assert policies.audiences(person(YRD)) == {"body:yangtze-river-delta"}
    assert policies.audiences(person(RoleGrant(Role.platform_admin))) == frozenset()


def test_default_deny() -> None:
    own = Target(recipient_key="prefecture:330100")
    assert policies.decide(person(HZ), Action.acknowledge, own)
    assert not policies.decide(person(HZ), Action.acknowledge, Target(recipient_key="prefecture:330500"))
    assert not policies.decide(person(HZ), Action.acknowledge, Target())
    assert not policies.decide(ANONYMOUS, Action.read)
    assert not policies.decide(person(RoleGrant(Role.patient)), Action.read)
    assert policies.decide(person(RoleGrant(Role.regulator)), Action.read)
    lead = Target(party_roles=frozenset({("prefecture:330100", "lead")}))
    support = Target(party_roles=frozenset({("prefecture:330100", "support")}))
    assert policies.decide(person(HZ), Action.add_task, lead)
    assert not policies.decide(person(HZ), Action.add_task, support)
