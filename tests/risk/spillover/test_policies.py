"""The spill-over access matrix: risk roles run models and read rivers; only the platform imports."""

from __future__ import annotations

import pytest

from regio.core.access import ANONYMOUS, SYSTEM, Principal, Role, RoleGrant
from regio.risk.spillover.policies import Action, decide

RISK_ROLES = {Role.city_officer, Role.coordinator, Role.evaluator, Role.regulator}


def _as(role: Role) -> Principal:
    return Principal(user_id=1, username="u", grants=frozenset({RoleGrant(role)}))


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_each_role_gets_exactly_what_the_policy_grants(role: Role, action: Action) -> None:
    expected = {
        Action.run: role in RISK_ROLES,
        Action.read: role in RISK_ROLES,
        Action.import_rivers: role == Role.platform_admin,
    }[action]
    assert decide(_as(role), action) is expected


@pytest.mark.parametrize("action", list(Action))
def test_anonymous_visitors_get_nothing(action: Action) -> None:
    assert decide(ANONYMOUS, action) is False


def test_a_signed_in_person_without_roles_gets_nothing_and_the_platform_imports() -> None:
    nobody = Principal(user_id=5, username="n")
    assert not any(decide(nobody, action) for action in Action)
    assert decide(SYSTEM, Action.import_rivers)
