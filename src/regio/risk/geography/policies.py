"""Who may do what with geography: pure, default-deny decisions over a Principal."""

from __future__ import annotations

from enum import StrEnum

from regio.core.access import Principal, Role


class Action(StrEnum):
    read = "read"  # jurisdictions, neighbours, bodies and their members, the map
    match = "match"  # which jurisdictions a hazard touches
    read_officers = "read_officers"  # the named people holding roles in a body
    load = "load"  # replace boundaries and adjacency
    manage_bodies = "manage_bodies"  # create bodies, members and offices


# Officers' names are personal data, but the people coordinating risks across cities need them.
_OFFICER_READERS = frozenset(
    {Role.city_officer, Role.coordinator, Role.evaluator, Role.regulator, Role.platform_admin}
)


def decide(principal: Principal, action: Action) -> bool:
    """One decision for every action; anything not allowed here is denied."""
    if action in (Action.load, Action.manage_bodies):
        # the platform itself (CLI, demo loader) holds platform_admin without signing in
        return principal.has_role(Role.platform_admin)
    if not principal.is_authenticated:
        return False
    if action in (Action.read, Action.match):
        # the map of China is not secret, but the platform serves signed-in people and systems only
        return True
    if action == Action.read_officers:
        return bool(principal.roles & _OFFICER_READERS)
    return False
