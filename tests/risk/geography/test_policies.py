"""The geography access matrix: every role reads and matches; only the platform loads and manages."""

from __future__ import annotations

import pytest

from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant
from regio.risk.geography.policies import Action, decide


def _as(role: Role) -> Principal:
    return Principal(user_id=1, username="u", grants=frozenset({RoleGrant(role)}))


OFFICER_READERS = {Role.city_officer, Role.coordinator, Role.evaluator, Role.regulator, Role.platform_admin}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_each_role_gets_exactly_what_the_policy_grants(role: Role, action: Action) -> None:
    expected = {
        Action.read: True,
        Action.match: True,
        Action.read_officers: role in OFFICER_READERS,
        Action.load: role == Role.platform_admin,
        Action.manage_bodies: role == Role.platform_admin,
    }[action]
    assert decide(_as(role), action) is expected


@pytest.mark.parametrize("action", list(Action))
def test_anonymous_visitors_get_nothing(action: Action) -> None:
    assert decide(ANONYMOUS, action) is False


def test_a_signed_in_person_without_roles_may_read_but_not_write() -> None:
    nobody = Principal(user_id=5, username="n")
    assert decide(nobody, Action.match) and not decide(nobody, Action.load)
