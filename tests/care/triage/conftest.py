"""Fixtures for triage tests: a patient user with their own record and a child, and a stranger."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import pytest

from regio.care.patients import service as patients_service
from regio.care.patients.models import Relation
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant
from regio.core.db import Database
from regio.core.identity.models import User
from tests.care.patients.idgen import make_id_number, years_ago
from tests.factories import make_user, principal_for

_serial = itertools.count(1)


@dataclass
class Family:
    user: User
    principal: Principal
    self_id: int
    child_id: int


async def make_family(db: Database, settings: Settings) -> Family:
    """A patient account with its own record and a bound four-year-old."""
    n = next(_serial)
    user = await make_user(db, roles=[Role.patient])
    principal = principal_for(user, [RoleGrant(Role.patient)])
    async with db.session() as session:
        me = await patients_service.register_patient(
            session=session,
            settings=settings,
            principal=principal,
            name=f"家长{n}",
            id_number=make_id_number(birth=date(1985, 3, 1 + n % 27), sequence=f"{n % 100:02d}", sex_digit=3),
            phone="13900000000",
        )
    async with db.session() as session:
        child = await patients_service.register_patient(
            session=session,
            settings=settings,
            principal=principal,
            name=f"孩子{n}",
            id_number=make_id_number(
                birth=years_ago(4, days_later=n % 200), sequence=f"{n % 100:02d}", sex_digit=2
            ),
            phone="13900000000",
            relation=Relation.child,
        )
    return Family(user=user, principal=principal, self_id=me.patient.id, child_id=child.patient.id)


@pytest.fixture
async def family(db: Database, settings: Settings) -> Family:
    return await make_family(db, settings)


@pytest.fixture
async def other_family(db: Database, settings: Settings) -> Family:
    return await make_family(db, settings)
