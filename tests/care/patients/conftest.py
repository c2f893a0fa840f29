"""Fixtures for the patients tests: people with the patient role, an audit recorder, row counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from regio.care.patients.models import Patient, PatientBinding
from regio.core import audit
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database
from regio.core.identity.models import User
from tests.factories import make_user, principal_for


@dataclass
class Person:
    user: User
    principal: Principal

    @property
    def id(self) -> int:
        return self.user.id


MakePerson = Callable[..., Awaitable[Person]]

# A scope each role may be held in (identity refuses a role in a scope it makes no sense in).
_SCOPES: dict[Role, tuple[ScopeKind, str]] = {
    Role.doctor: (ScopeKind.hospital, "1"),
    Role.pharmacist: (ScopeKind.hospital, "1"),
    Role.hospital_admin: (ScopeKind.hospital, "1"),
    Role.health_admin: (ScopeKind.region, "330000"),
    Role.city_officer: (ScopeKind.jurisdiction, "330100"),
    Role.coordinator: (ScopeKind.coordination_body, "1"),
}


def grant_for(role: Role | RoleGrant) -> RoleGrant:
    if isinstance(role, RoleGrant):
        return role
    kind, scope_id = _SCOPES.get(role, (ScopeKind.platform, ""))
    return RoleGrant(role, kind, scope_id)


@pytest.fixture
def make_person(db: Database) -> MakePerson:
    async def make(*roles: Role | RoleGrant, username: str | None = None) -> Person:
        grants = tuple(grant_for(role) for role in roles or (Role.patient,))
        user = await make_user(db, roles=grants, username=username)
        return Person(user=user, principal=principal_for(user, grants))

    return make


@dataclass
class AuditLog:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.entries]

    def of(self, action: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry["action"] == action]


@pytest.fixture
def audit_log(monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    """Records every audit.record call (and still makes it), to prove which actions are audited."""
    log = AuditLog()
    original = audit.record

    async def recording(session: Any, principal: Principal, action: str, **kwargs: Any) -> Any:
        result = await original(session, principal, action, **kwargs)
        log.entries.append({"principal": principal, "action": action, **kwargs})
        return result

    monkeypatch.setattr(audit, "record", recording)
    return log


async def row_counts(db: Database) -> tuple[int, int]:
    """(patients, bindings): compared before and after a refusal to prove nothing was written."""
    async with db.session() as session:
        patients = await session.scalar(select(func.count()).select_from(Patient))
        bindings = await session.scalar(select(func.count()).select_from(PatientBinding))
    return int(patients or 0), int(bindings or 0)
