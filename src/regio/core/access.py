"""Who is asking (Principal), what roles they hold and where, and the default-deny helpers.

A role is held in a scope (kind + id: a hospital, a jurisdiction, a region) that core
stores without knowing what it is. Each subdomain decides access with one pure function
over a Principal; anything it does not explicitly allow is denied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from regio.core.errors import Forbidden


class Role(StrEnum):
    patient = "patient"
    doctor = "doctor"
    pharmacist = "pharmacist"
    hospital_admin = "hospital_admin"
    quality_officer = (
        "quality_officer"  # a hospital's own quality role (医疗质量管理); sees 统方-type figures
    )
    health_admin = "health_admin"  # regional health commission
    city_officer = "city_officer"
    coordinator = "coordinator"
    evaluator = "evaluator"
    regulator = "regulator"  # read-only oversight
    platform_admin = "platform_admin"


class ScopeKind(StrEnum):
    platform = "platform"
    region = "region"  # a province-level health region, scope_id = adcode
    hospital = "hospital"
    jurisdiction = "jurisdiction"  # a city or county, scope_id = adcode
    coordination_body = "coordination_body"
    pharmacy = "pharmacy"  # a designated retail pharmacy, scope_id = its id


@dataclass(frozen=True, slots=True)
class RoleGrant:
    role: Role
    scope_kind: ScopeKind = ScopeKind.platform
    scope_id: str = ""


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person or institution system a request acts as."""

    user_id: int | None
    username: str
    grants: frozenset[RoleGrant] = field(default_factory=frozenset)
    client_id: int | None = None  # set when an institution's system, not a person, is calling
    display_name: str = ""
    system: bool = False  # the platform itself (SYSTEM below); never set from a request

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None or self.client_id is not None or self.system

    @property
    def is_person(self) -> bool:
        return self.user_id is not None and self.client_id is None

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(grant.role for grant in self.grants)

    def has_role(self, role: Role, scope_kind: ScopeKind | None = None, scope_id: str | None = None) -> bool:
        for grant in self.grants:
            if grant.role != role:
                continue
            if scope_kind is not None and grant.scope_kind != scope_kind:
                continue
            if scope_id is not None and grant.scope_id != str(scope_id):
                continue
            return True
        return False

    def scope_ids(self, role: Role, scope_kind: ScopeKind) -> frozenset[str]:
        return frozenset(
            grant.scope_id for grant in self.grants if grant.role == role and grant.scope_kind == scope_kind
        )

    @property
    def primary_role(self) -> Role | None:
        return min(self.roles, key=lambda role: list(Role).index(role)) if self.grants else None


ANONYMOUS = Principal(user_id=None, username="anonymous")

# The platform acting on its own: CLI imports, demo loading, background jobs, and the actor of
# changes no signed-in person made (a self-service sign-up). It holds platform_admin so that the
# services' ordinary policies let it do what an operator at the server's console may do, and
# `system=True` makes it authenticated without pretending to be a user or an API client (their
# ids would point at rows that do not exist). Only code builds it; no request can act as it.
SYSTEM = Principal(
    user_id=None,
    username="system",
    grants=frozenset({RoleGrant(Role.platform_admin)}),
    display_name="Regio system",
    system=True,
)


def require(allowed: bool, **details: object) -> None:
    """Raises Forbidden unless a policy said yes; the one way services enforce a decision."""
    if not allowed:
        raise Forbidden(**details)
