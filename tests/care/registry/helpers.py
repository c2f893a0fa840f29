"""Builders for registry tests: principals by role and scope, hospitals, doctors, CSV bytes."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from regio.care.registry import service
from regio.care.registry.schemas import DoctorIn, HospitalIn, PharmacistIn
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database

ZJ = "330000"
HANGZHOU = "330100"
NINGBO = "330200"
WENZHOU = "330300"


def principal(
    role: Role, scope_kind: ScopeKind = ScopeKind.platform, scope_id: str = "", user_id: int = 900
) -> Principal:
    return Principal(
        user_id=user_id,
        username=f"{role.value}-{scope_id or 'all'}",
        grants=frozenset({RoleGrant(role, scope_kind, str(scope_id))}),
    )


def health_admin(region: str = ZJ) -> Principal:
    return principal(Role.health_admin, ScopeKind.region, region)


def hospital_admin(hospital_id: int) -> Principal:
    return principal(Role.hospital_admin, ScopeKind.hospital, str(hospital_id))


REGULATOR = principal(Role.regulator)
PATIENT = principal(Role.patient)


def today() -> date:
    return service.today()


def years_ago(years: int, days: int = 0) -> date:
    now = today()
    try:
        then = now.replace(year=now.year - years)
    except ValueError:  # 29 February
        then = now.replace(year=now.year - years, day=28)
    return then - timedelta(days=days)


_serial = iter(range(1, 1_000_000))


def hospital_in(**overrides: Any) -> HospitalIn:
    n = next(_serial)
    values: dict[str, Any] = {
        "name": f"测试医院{n}",
        "name_en": f"Test Hospital {n}",
        "level": "三级甲等",
        "city_adcode": HANGZHOU,
        "address": "杭州市上城区",
        "licence_no": f"TEST-H-{n:05d}",
        "licence_valid_from": today() - timedelta(days=365),
        "licence_valid_to": today() + timedelta(days=365),
        "status": "approved",
        "department_codes": ["respiratory", "pediatrics", "fever_clinic"],
    }
    values.update(overrides)
    return HospitalIn(**values)


async def make_hospital(db: Database, **overrides: Any) -> int:
    async with db.session() as session:
        hospital = await service.create_hospital(
            session=session, principal=service.SYSTEM, data=hospital_in(**overrides)
        )
    return hospital.id


def doctor_in(hospital_id: int, **overrides: Any) -> DoctorIn:
    n = next(_serial)
    values: dict[str, Any] = {
        "real_name": f"医生{n}",
        "licence_no": f"TEST-D-{n:08d}",
        "title": "主治医师",
        "independent_practice_since": years_ago(8),
        "real_name_verified": True,
        "hospital_id": hospital_id,
        "department_codes": ["respiratory"],
    }
    values.update(overrides)
    return DoctorIn(**values)


async def make_doctor(db: Database, hospital_id: int, **overrides: Any) -> int:
    async with db.session() as session:
        doctor = await service.create_doctor(
            session=session, principal=service.SYSTEM, data=doctor_in(hospital_id, **overrides)
        )
    return doctor.id


async def make_pharmacist(db: Database, hospital_id: int, **overrides: Any) -> int:
    n = next(_serial)
    values: dict[str, Any] = {
        "real_name": f"药师{n}",
        "licence_no": f"TEST-P-{n:06d}",
        "hospital_id": hospital_id,
    }
    values.update(overrides)
    async with db.session() as session:
        pharmacist = await service.create_pharmacist(
            session=session, principal=service.SYSTEM, data=PharmacistIn(**values)
        )
    return pharmacist.id


def csv_bytes(header: list[str], rows: list[list[str]], *, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)
