"""Who may do what with risk reports: one pure, default-deny decision over a Principal and a report's place.

City officers hold their role in a jurisdiction scope (scope id = adcode). They report, update
and cancel for that jurisdiction and the ones inside it (GB/T 2260: a province's codes share its
first two digits, a prefecture's its first four), and read those plus the reports of
jurisdictions that sit with theirs in a coordination body. Coordinators read, and merge
duplicates of, reports whose origin belongs to their body. Regulators and evaluators read.
Everyone else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from regio.core.access import Principal, Role, ScopeKind


class Action(StrEnum):
    read = "read"  # a report, its versions and attachments, its CAP alert
    report = "report"  # a new report (or a CAP alert) for an origin jurisdiction
    update = "update"  # a new version, or an attachment
    cancel = "cancel"
    merge = "merge"  # fold a duplicate report into another


@dataclass(frozen=True, slots=True)
class Target:
    """Where a report comes from: its origin jurisdiction and the coordination bodies that hold it."""

    origin_adcode: str
    bodies: frozenset[str] = field(default_factory=frozenset)


_READERS_OF_ALL = frozenset({Role.regulator, Role.evaluator})
_WRITES = (Action.report, Action.update, Action.cancel)


def contains(scope_adcode: str, adcode: str) -> bool:
    """Whether the jurisdiction `scope_adcode` is, or contains, `adcode` (by the GB/T 2260 code)."""
    if len(scope_adcode) != 6 or len(adcode) != 6:
        return False
    if scope_adcode.endswith("0000"):
        return adcode[:2] == scope_adcode[:2]
    if scope_adcode.endswith("00"):
        return adcode[:4] == scope_adcode[:4]
    return adcode == scope_adcode


def officer_jurisdictions(principal: Principal) -> frozenset[str]:
    return principal.scope_ids(Role.city_officer, ScopeKind.jurisdiction)


def coordinator_bodies(principal: Principal) -> frozenset[str]:
    return principal.scope_ids(Role.coordinator, ScopeKind.coordination_body)


def may(
    principal: Principal,
    action: Action,
    target: Target,
    *,
    principal_bodies: frozenset[str] = frozenset(),
) -> bool:
    """One decision for every action on one report; `principal_bodies` are the bodies of the
    officer's own jurisdictions (for reading across a body)."""
    if principal.has_role(Role.platform_admin):
        return True
    if not principal.is_authenticated:
        return False
    own = officer_jurisdictions(principal)
    writes_here = any(contains(scope, target.origin_adcode) for scope in own)
    if action in _WRITES:
        return writes_here
    if action == Action.merge:
        return writes_here or bool(coordinator_bodies(principal) & target.bodies)
    if action == Action.read:
        if principal.roles & _READERS_OF_ALL:
            return True
        if writes_here or bool(coordinator_bodies(principal) & target.bodies):
            return True
        return bool(own) and bool(principal_bodies & target.bodies)
    return False


def could_ever(principal: Principal, action: Action) -> bool:
    """Whether some report could allow the action (lists and forms are offered only then)."""
    if principal.has_role(Role.platform_admin):
        return True
    if not principal.is_authenticated:
        return False
    officer = bool(officer_jurisdictions(principal))
    if action in _WRITES:
        return officer
    if action == Action.merge:
        return officer or bool(coordinator_bodies(principal))
    if action == Action.read:
        return officer or bool(coordinator_bodies(principal)) or bool(principal.roles & _READERS_OF_ALL)
    return False
