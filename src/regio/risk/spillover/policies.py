"""Who may run spill-over models and manage river networks: pure, default-deny decisions."""

from __future__ import annotations

from enum import StrEnum

from regio.core.access import Principal, Role


class Action(StrEnum):
    run = "run"  # run a model on demand
    read = "read"  # the river network's reaches
    import_rivers = "import_rivers"  # store or replace a river network


# The people who work risks across cities; the platform administrator runs the platform, not models.
RISK_ROLES = frozenset({Role.city_officer, Role.coordinator, Role.evaluator, Role.regulator})


def decide(principal: Principal, action: Action) -> bool:
    """One decision for every action; anything not allowed here is denied."""
    if action == Action.import_rivers:
        # the platform itself (CLI) holds platform_admin without signing in
        return principal.has_role(Role.platform_admin)
    if not principal.is_authenticated:
        return False
    if action in (Action.run, Action.read):
        return bool(principal.roles & RISK_ROLES)
    return False
