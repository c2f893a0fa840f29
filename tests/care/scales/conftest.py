"""Fixtures for scale tests: families who answer, a hospital with psychiatrists on duty now, its admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from regio.care.booking.models import Shift
from regio.care.registry import service as registry_service
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database, utcnow
from regio.core.identity.models import User
from tests.care.registry.helpers import make_doctor, make_hospital
from tests.care.triage.conftest import Family, make_family
from tests.factories import make_user, principal_for

__all__ = ["Family", "Staff", "Ward"]


@dataclass
class Staff:
    user: User
    principal: Principal
    doctor_id: int | None = None


@dataclass
class Ward:
    hospital_id: int
    psychiatrists: list[Staff]  # on duty now in psychiatry
    respiratory: Staff  # on duty now in another department of the same hospital
    off_duty: Staff  # a psychiatrist with no shift now
    admin: Staff  # hospital_admin of the hospital


async def add_shift(
    db: Database, *, hospital_id: int, doctor_id: int, department: str, start: datetime, hours: float
) -> None:
    """A scheduled shift written straight into booking's table: the window matters here, not the slots."""
    async with db.session() as session, session.begin():
        session.add(
            Shift(
                hospital_id=hospital_id,
                city_adcode="330100",
                hospital_name="测试医院",
                department_code=department,
                doctor_id=doctor_id,
                doctor_name="医生",
                doctor_title="主治医师",
                local_date=start.date(),
                start_at=start,
                end_at=start + timedelta(hours=hours),
                modes="text",
                slot_minutes=30,
                capacity_per_slot=1,
                fee_fen=0,
            )
        )


async def make_doctor_user(db: Database, hospital_id: int, department: str) -> Staff:
    doctor_id = await make_doctor(db, hospital_id, department_codes=[department])
    grant = RoleGrant(Role.doctor, ScopeKind.hospital, str(hospital_id))
    user = await make_user(db, roles=[grant])
    async with db.session() as session:
        await registry_service.link_doctor_user(
            session=session, principal=registry_service.SYSTEM, doctor_id=doctor_id, user_id=user.id
        )
    return Staff(user=user, principal=principal_for(user, [grant]), doctor_id=doctor_id)


async def build_ward(db: Database, *, psychiatrists_on_duty: int = 2) -> Ward:
    hospital_id = await make_hospital(db, department_codes=["psychiatry", "respiratory"])
    now = utcnow()
    on_duty = []
    for _ in range(psychiatrists_on_duty):
        staff = await make_doctor_user(db, hospital_id, "psychiatry")
        await add_shift(
            db,
            hospital_id=hospital_id,
            doctor_id=staff.doctor_id or 0,
            department="psychiatry",
            start=now - timedelta(hours=1),
            hours=4,
        )
        on_duty.append(staff)
    respiratory = await make_doctor_user(db, hospital_id, "respiratory")
    await add_shift(
        db,
        hospital_id=hospital_id,
        doctor_id=respiratory.doctor_id or 0,
        department="respiratory",
        start=now - timedelta(hours=2),
        hours=8,
    )
    off_duty = await make_doctor_user(db, hospital_id, "psychiatry")
    await add_shift(
        db,
        hospital_id=hospital_id,
        doctor_id=off_duty.doctor_id or 0,
        department="psychiatry",
        start=now + timedelta(hours=5),
        hours=4,
    )
    grant = RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(hospital_id))
    admin_user = await make_user(db, roles=[grant])
    admin = Staff(user=admin_user, principal=principal_for(admin_user, [grant]))
    return Ward(
        hospital_id=hospital_id,
        psychiatrists=on_duty,
        respiratory=respiratory,
        off_duty=off_duty,
        admin=admin,
    )


@pytest.fixture
async def family(db: Database, settings: Settings) -> Family:
    return await make_family(db, settings)


@pytest.fixture
async def other_family(db: Database, settings: Settings) -> Family:
    return await make_family(db, settings)


@pytest.fixture
async def ward(db: Database) -> Ward:
    return await build_ward(db)
