"""Fixtures for the patients tests: people with the patient role, the committed audit trail, SMS, row counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from regio.care.patients.models import Patient, PatientBinding
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.identity.models import User
from regio.core.sms import MemorySmsGateway
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
class AuditTrail:
    """The audit entries actually committed, read in a session of their own after the acts."""

    db: Database

    async def entries(self) -> list[AuditEntry]:
        async with self.db.session() as session:
            return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())

    async def actions(self) -> list[str]:
        return [entry.action for entry in await self.entries()]

    async def of(self, action: str) -> list[AuditEntry]:
        return [entry for entry in await self.entries() if entry.action == action]


@pytest.fixture
def audit_trail(db: Database) -> AuditTrail:
    return AuditTrail(db)


@pytest.fixture
def sms() -> MemorySmsGateway:
    """Where codes go in these tests; read a code with sms.last_code(phone)."""
    return MemorySmsGateway()


@pytest.fixture
def app_sms(app: FastAPI, sms: MemorySmsGateway) -> MemorySmsGateway:
    """The same gateway, installed in the app that the `client` fixture talks to."""
    app.state.sms_gateway = sms
    return sms


async def row_counts(db: Database) -> tuple[int, int]:
    """(patients, bindings): compared before and after a refusal to prove nothing was written."""
    async with db.session() as session:
        patients = await session.scalar(select(func.count()).select_from(Patient))
        bindings = await session.scalar(select(func.count()).select_from(PatientBinding))
    return int(patients or 0), int(bindings or 0)
