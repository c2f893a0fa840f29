"""Fixtures for booking tests: a hospital with a doctor, shifts with slots, patients who may book."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest

from regio.care.booking import service
from regio.care.booking.schemas import ShiftIn, ShiftOut
from regio.care.patients import service as patients_service
from regio.care.registry import service as registry_service
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database
from regio.core.identity.models import User
from tests.care.patients.idgen import make_id_number
from tests.care.registry.helpers import hospital_admin, make_doctor, make_hospital
from tests.factories import make_user, principal_for

_people = itertools.count(1)


@dataclass
class World:
    hospital_id: int
    doctor_id: int
    doctor_user: User
    doctor: Principal  # the doctor's own account
    admin: Principal  # hospital_admin of the hospital

    @property
    def tomorrow(self) -> date:
        return registry_service.today() + timedelta(days=1)


@dataclass
class PatientUser:
    user: User
    principal: Principal
    patient_id: int


MakeShift = Callable[..., Awaitable[ShiftOut]]
MakePatients = Callable[[int], Awaitable[list[PatientUser]]]


async def build_world(db: Database, *, departments: list[str] | None = None) -> World:
    hospital_id = await make_hospital(
        db, department_codes=departments or ["respiratory", "pediatrics", "fever_clinic"]
    )
    doctor_id = await make_doctor(db, hospital_id, department_codes=["respiratory", "fever_clinic"])
    grant = RoleGrant(Role.doctor, ScopeKind.hospital, str(hospital_id))
    user = await make_user(db, roles=[grant])
    async with db.session() as session:
        await registry_service.link_doctor_user(
            session=session, principal=registry_service.SYSTEM, doctor_id=doctor_id, user_id=user.id
        )
    return World(
        hospital_id=hospital_id,
        doctor_id=doctor_id,
        doctor_user=user,
        doctor=principal_for(user, [grant]),
        admin=hospital_admin(hospital_id),
    )


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def shift_for(
    db: Database,
    world: World,
    *,
    capacity: int = 1,
    slot_minutes: int = 30,
    start: time = time(8),
    end: time = time(12),
    day: date | None = None,
    department: str = "respiratory",
    doctor_id: int | None = None,
    modes: list[str] | None = None,
) -> ShiftOut:
    async with db.session() as session:
        return await service.create_shift(
            session=session,
            principal=world.admin,
            data=ShiftIn(
                hospital_id=world.hospital_id,
                department_code=department,
                doctor_id=doctor_id or world.doctor_id,
                local_date=day or world.tomorrow,
                start_time=start,
                end_time=end,
                modes=modes or ["text", "video"],
                slot_minutes=slot_minutes,
                capacity_per_slot=capacity,
                fee_fen=2500,
            ),
        )


@pytest.fixture
def make_shift(db: Database, world: World) -> MakeShift:
    async def make(**kwargs: object) -> ShiftOut:
        return await shift_for(db, world, **kwargs)  # type: ignore[arg-type]

    return make


async def patients_for(db: Database, settings: Settings, count: int) -> list[PatientUser]:
    made = []
    for _ in range(count):
        n = next(_people)
        grant = RoleGrant(Role.patient, ScopeKind.platform, "")
        user = await make_user(db, roles=[grant])
        principal = principal_for(user, [grant])
        born = date(1950, 1, 1) + timedelta(days=n * 7 % 20000)
        async with db.session() as session:
            answer = await patients_service.register_patient(
                session=session,
                settings=settings,
                principal=principal,
                name="患者" + str(n),
                id_number=make_id_number(birth=born, sequence=f"{n % 100:02d}", sex_digit=n % 10),
                phone="13800000000",
            )
        made.append(PatientUser(user=user, principal=principal, patient_id=answer.patient.id))
    return made


@pytest.fixture
def make_patients(db: Database, settings: Settings) -> MakePatients:
    async def make(count: int) -> list[PatientUser]:
        return await patients_for(db, settings, count)

    return make
