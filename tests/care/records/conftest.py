"""Fixtures for records tests: a hospital with an eligible doctor, patients, consultations in progress."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import httpx
import pytest

from regio.care.consultation.models import Consultation
from regio.care.patients import service as patients_service
from regio.care.patients.models import Relation
from regio.care.records import service
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database, utcnow
from regio.core.identity.models import User
from tests.care.booking.conftest import World, build_world
from tests.care.patients.idgen import make_id_number
from tests.factories import make_user, principal_for, token_headers

_people = itertools.count(1)


@dataclass
class PatientUser:
    user: User
    principal: Principal
    patient_id: int


MakePatient = Callable[..., Awaitable[PatientUser]]
MakeConsultation = Callable[..., Awaitable[int]]


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def patient_for(
    db: Database, settings: Settings, *, born: date = date(1980, 5, 1), child_of: PatientUser | None = None
) -> PatientUser:
    """A registered patient; with child_of, a child registered by (and bound to) that user."""
    n = next(_people)
    grant = RoleGrant(Role.patient, ScopeKind.platform, "")
    if child_of is None:
        user = await make_user(db, roles=[grant])
        principal = principal_for(user, [grant])
        relation = Relation.self_
    else:
        user, principal, relation = child_of.user, child_of.principal, Relation.child
    async with db.session() as session:
        answer = await patients_service.register_patient(
            session=session,
            settings=settings,
            principal=principal,
            name="病历患者" + str(n),
            id_number=make_id_number(birth=born, sequence=f"{n % 100:02d}", sex_digit=n % 10),
            phone="13900000000",
            relation=relation,
        )
    return PatientUser(user=user, principal=principal, patient_id=answer.patient.id)


@pytest.fixture
def make_patient(db: Database, settings: Settings) -> MakePatient:
    async def make(**kwargs: object) -> PatientUser:
        return await patient_for(db, settings, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def patient(make_patient: MakePatient) -> PatientUser:
    return await make_patient()


async def consultation_for(
    db: Database,
    world: World,
    patient: PatientUser,
    *,
    status: str = "in_progress",
    completed_at: datetime | None = None,
    doctor_id: int | None = None,
) -> int:
    """A consultation row as the consultation subdomain leaves it (tests set it up directly)."""
    now = utcnow()
    async with db.session() as session, session.begin():
        row = Consultation(
            patient_id=patient.patient_id,
            requester_user_id=patient.user.id,
            doctor_id=doctor_id or world.doctor_id,
            hospital_id=world.hospital_id,
            department_code="respiratory",
            mode="text",
            source="appointment",
            status=status,
            scheduled_at=now - timedelta(minutes=10),
            started_at=now - timedelta(minutes=5) if status != "waiting" else None,
            completed_at=completed_at or (now if status == "completed" else None),
        )
        session.add(row)
        await session.flush()
        return row.id


@pytest.fixture
def make_consultation(db: Database, world: World) -> MakeConsultation:
    async def make(patient: PatientUser, **kwargs: object) -> int:
        return await consultation_for(db, world, patient, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def doctor_headers(settings: Settings, world: World) -> dict[str, str]:
    return token_headers(settings, world.doctor_user)


async def add_hospital_record(
    db: Database, world: World, patient_id: int, code: str, *, on: date | None = None
) -> int:
    """A prior offline diagnosis from the hospital's own records, entered by its admin."""
    from regio.care.records.enums import PriorSource
    from regio.care.records.schemas import PriorIn

    async with db.session() as session:
        prior = await service.add_prior(
            session=session,
            principal=world.admin,
            data=PriorIn(
                patient_id=patient_id,
                icd10_code=code,
                diagnosed_on=on or service.today() - timedelta(days=30),
                hospital_name="测试医院门诊",
                hospital_id=world.hospital_id,
                source=PriorSource.hospital_record,
            ),
        )
    return prior.id


async def get_json(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> object:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
