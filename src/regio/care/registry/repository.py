"""Registry queries; the listing rule in SQL, upserts decided by unique constraints. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from regio.care.registry.enums import DoctorTitle, HospitalLevel, HospitalStatus
from regio.care.registry.models import Doctor, Hospital, HospitalDepartment, Pharmacist, PracticeSite
from regio.care.registry.policies import Visibility
from regio.core.db import utcnow

Upserted = Literal["created", "updated", "unchanged"]


def listed_clause(today: date) -> ColumnElement[bool]:
    """policies.is_listed in SQL: evaluated at query time, so a suspension hides a hospital at once."""
    return and_(
        Hospital.status == HospitalStatus.approved.value,
        Hospital.licence_valid_from <= today,
        Hospital.licence_valid_to >= today,
    )


def visible_clause(vis: Visibility, today: date) -> ColumnElement[bool]:
    """The hospitals a Visibility admits, in SQL: listed ones, and unlisted ones in its scopes."""
    if vis.everything:
        return true()
    parts = [listed_clause(today)]
    if vis.regions:
        parts.append(Hospital.region_adcode.in_(sorted(vis.regions)))
    if vis.hospital_ids:
        parts.append(Hospital.id.in_(sorted(vis.hospital_ids)))
    return or_(*parts)


def _level_rank() -> ColumnElement[int]:
    return case(
        {level.value: rank for rank, level in enumerate(HospitalLevel)}, value=Hospital.level, else_=99
    )


def _title_rank() -> ColumnElement[int]:
    return case({title.value: rank for rank, title in enumerate(DoctorTitle)}, value=Doctor.title, else_=99)


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(column).contains(text.lower(), autoescape=True)


def _insert(session: AsyncSession, model: Any) -> Any:
    """The dialect's own INSERT, for ON CONFLICT; SQLite and PostgreSQL spell it alike."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


# ---- hospitals ---------------------------------------------------------------------------------------


def _hospital_filters(
    where: ColumnElement[bool], city: str | None, department: str | None, q: str | None
) -> list[ColumnElement[bool]]:
    filters = [where]
    if city:
        filters.append(Hospital.city_adcode == city)
    if department:
        filters.append(
            exists().where(
                HospitalDepartment.hospital_id == Hospital.id,
                HospitalDepartment.department_code == department,
            )
        )
    if q:
        filters.append(or_(_contains(Hospital.name, q), _contains(func.coalesce(Hospital.name_en, ""), q)))
    return filters


async def search_hospitals(
    session: AsyncSession,
    *,
    where: ColumnElement[bool],
    city: str | None,
    department: str | None,
    q: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Hospital], int]:
    """One page of hospitals matching the filters, best level first, and the total."""
    filters = _hospital_filters(where, city, department, q)
    total = await session.scalar(select(func.count()).select_from(Hospital).where(*filters))
    rows = await session.scalars(
        select(Hospital)
        .where(*filters)
        .options(selectinload(Hospital.departments))
        .order_by(_level_rank(), Hospital.city_adcode, Hospital.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def get_hospital(session: AsyncSession, hospital_id: int, *, lock: bool = False) -> Hospital | None:
    """One hospital with its departments, read afresh (optionally locked for update)."""
    statement: Select[Hospital] = (
        select(Hospital)
        .where(Hospital.id == hospital_id)
        .options(selectinload(Hospital.departments))
        .execution_options(populate_existing=True)
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).first()


async def hospitals_by_licence(session: AsyncSession, licence_nos: Iterable[str]) -> dict[str, Hospital]:
    """Registered hospitals by licence number, with their departments."""
    wanted = sorted(set(licence_nos))
    found: dict[str, Hospital] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.scalars(
            select(Hospital)
            .where(Hospital.licence_no.in_(wanted[start : start + 500]))
            .options(selectinload(Hospital.departments))
        )
        found.update({row.licence_no: row for row in rows})
    return found


async def hospital_version(session: AsyncSession, hospital_id: int) -> int | None:
    """A hospital's current version, or None if it does not exist."""
    version = await session.scalar(select(Hospital.version).where(Hospital.id == hospital_id))
    return int(version) if version is not None else None


async def insert_hospital(session: AsyncSession, values: dict[str, Any]) -> Hospital:
    """Inserts a hospital now, so a duplicate licence fails here inside the caller's transaction."""
    hospital = Hospital(**values)
    session.add(hospital)
    await session.flush()
    return hospital


async def update_hospital_if(
    session: AsyncSession,
    hospital_id: int,
    *,
    version: int,
    allowed_statuses: Iterable[str] | None,
    values: dict[str, Any],
) -> bool:
    """Applies the change only if nobody changed the row since `version` (and its status allows it)."""
    conditions = [Hospital.id == hospital_id, Hospital.version == version]
    if allowed_statuses is not None:
        conditions.append(Hospital.status.in_(sorted(allowed_statuses)))
    result = await session.execute(
        update(Hospital)
        .where(*conditions)
        .values(**values, version=Hospital.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _upsert(
    session: AsyncSession, model: Any, values: dict[str, Any], *, extra_where: list[Any], bump_version: bool
) -> tuple[int, Upserted]:
    """Insert or update by licence number, each outcome decided by the statement that makes it.

    INSERT … ON CONFLICT DO NOTHING RETURNING says "created"; otherwise a conditional UPDATE that
    only touches a row whose values differ says "updated"; otherwise the row was already as given.
    A concurrent import of the same row waits on the unique index and then finds it unchanged.
    """
    table = model.__table__
    now = utcnow()
    columns = {**values, "created_at": now, "updated_at": now}
    if bump_version:
        columns["version"] = 1
    inserted = (
        await session.execute(
            _insert(session, model)
            .values(**columns)
            .on_conflict_do_nothing(index_elements=[table.c.licence_no])
            .returning(table.c.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return int(inserted), "created"
    changed = [column for column in values if column != "licence_no"]
    assignments: dict[str, Any] = {column: values[column] for column in changed}
    assignments["updated_at"] = now
    if bump_version:
        assignments["version"] = table.c.version + 1
    updated = (
        await session.execute(
            update(table)
            .where(
                table.c.licence_no == values["licence_no"],
                or_(*(table.c[column].is_distinct_from(values[column]) for column in changed)),
                *extra_where,
            )
            .values(**assignments)
            .returning(table.c.id)
        )
    ).scalar_one_or_none()
    if updated is not None:
        return int(updated), "updated"
    existing = await session.scalar(select(table.c.id).where(table.c.licence_no == values["licence_no"]))
    if existing is None:
        # Rows are never deleted, and the insert found one: only a broken invariant gets here.
        raise RuntimeError(f"{table.name} row with licence {values['licence_no']!r} conflicted but is gone")
    return int(existing), "unchanged"


async def upsert_hospital(session: AsyncSession, values: dict[str, Any]) -> tuple[int, Upserted]:
    """Insert or update by licence number; identical rows are left alone, revoked ones stay revoked."""
    extra = []
    if values["status"] != HospitalStatus.revoked.value:
        # a revoked licence is final, however the spreadsheet says otherwise
        extra.append(Hospital.status != HospitalStatus.revoked.value)
    return await _upsert(session, Hospital, values, extra_where=extra, bump_version=True)


async def add_departments(session: AsyncSession, hospital_id: int, codes: Sequence[str]) -> int:
    """Adds the departments the hospital lacks; the unique constraint settles repeats and races."""
    added = 0
    for code in codes:
        statement = (
            _insert(session, HospitalDepartment)
            .values(hospital_id=hospital_id, department_code=code, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["hospital_id", "department_code"])
            .returning(HospitalDepartment.id)
        )
        if (await session.execute(statement)).scalar() is not None:
            added += 1
    return added


async def department_codes_of(session: AsyncSession, hospital_id: int) -> list[str]:
    """The department codes a hospital offers, in the order they were added."""
    rows = await session.scalars(
        select(HospitalDepartment.department_code)
        .where(HospitalDepartment.hospital_id == hospital_id)
        .order_by(HospitalDepartment.id)
    )
    return list(rows)


# ---- doctors -----------------------------------------------------------------------------------------


def _with_sites() -> Any:
    return selectinload(Doctor.practice_sites).selectinload(PracticeSite.hospital)


async def get_doctor(session: AsyncSession, doctor_id: int) -> Doctor | None:
    """One doctor with their practice sites and hospitals, read afresh."""
    statement = (
        select(Doctor)
        .where(Doctor.id == doctor_id)
        .options(_with_sites())
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).first()


async def doctor_for_user(session: AsyncSession, user_id: int) -> Doctor | None:
    """The doctor a user account signs in as, if any."""
    return (
        await session.scalars(select(Doctor).where(Doctor.user_id == user_id).options(_with_sites()))
    ).first()


async def doctors_at(session: AsyncSession, hospital_id: int) -> list[Doctor]:
    """The doctors practising at a hospital, most senior first."""
    at_hospital = exists().where(PracticeSite.doctor_id == Doctor.id, PracticeSite.hospital_id == hospital_id)
    rows = await session.scalars(
        select(Doctor).where(at_hospital).options(_with_sites()).order_by(_title_rank(), Doctor.id)
    )
    return list(rows)


async def search_doctors(
    session: AsyncSession,
    *,
    where: ColumnElement[bool],
    q: str | None,
    department: str | None,
    city: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Doctor], int]:
    """Doctors with a practice site matching the filters at a hospital that `where` admits."""
    site_conditions = [PracticeSite.doctor_id == Doctor.id, where]
    if department:
        site_conditions.append(PracticeSite.department_code == department)
    if city:
        site_conditions.append(Hospital.city_adcode == city)
    matching_site = exists().where(*site_conditions).where(Hospital.id == PracticeSite.hospital_id)
    filters: list[ColumnElement[bool]] = [matching_site]
    if q:
        filters.append(_contains(Doctor.real_name, q))
    total = await session.scalar(select(func.count()).select_from(Doctor).where(*filters))
    rows = await session.scalars(
        select(Doctor)
        .where(*filters)
        .options(_with_sites())
        .order_by(_title_rank(), Doctor.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def insert_doctor(session: AsyncSession, values: dict[str, Any]) -> Doctor:
    """Inserts a doctor now, so a duplicate licence or account fails here."""
    doctor = Doctor(**values)
    session.add(doctor)
    await session.flush()
    return doctor


async def insert_site(
    session: AsyncSession, *, doctor_id: int, hospital_id: int, department_code: str
) -> None:
    """Inserts one practice site now, so a repeat fails on the unique constraint here."""
    session.add(PracticeSite(doctor_id=doctor_id, hospital_id=hospital_id, department_code=department_code))
    await session.flush()


async def add_sites(session: AsyncSession, doctor_id: int, sites: Iterable[tuple[int, str]]) -> int:
    """Adds the practice sites a doctor lacks; the unique constraint settles repeats and races."""
    added = 0
    for hospital_id, code in sites:
        statement = (
            _insert(session, PracticeSite)
            .values(doctor_id=doctor_id, hospital_id=hospital_id, department_code=code, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["doctor_id", "hospital_id", "department_code"])
            .returning(PracticeSite.id)
        )
        if (await session.execute(statement)).scalar() is not None:
            added += 1
    return added


async def upsert_doctor(session: AsyncSession, values: dict[str, Any]) -> tuple[int, Upserted]:
    """Insert or update a doctor by licence number (the caller has checked who may change them)."""
    return await _upsert(session, Doctor, values, extra_where=[], bump_version=False)


async def doctors_by_licence(session: AsyncSession, licence_nos: Iterable[str]) -> dict[str, Doctor]:
    """Registered doctors by licence number, with the hospitals they practise at."""
    wanted = sorted(set(licence_nos))
    found: dict[str, Doctor] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.scalars(
            select(Doctor).where(Doctor.licence_no.in_(wanted[start : start + 500])).options(_with_sites())
        )
        found.update({row.licence_no: row for row in rows})
    return found


async def doctor_ids_by_licence(session: AsyncSession, licence_nos: Iterable[str]) -> dict[str, int]:
    """Doctors' ids by licence number."""
    wanted = sorted(set(licence_nos))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(Doctor.licence_no, Doctor.id).where(Doctor.licence_no.in_(wanted[start : start + 500]))
        )
        found.update({licence: int(doctor_id) for licence, doctor_id in rows})
    return found


async def link_doctor_user(session: AsyncSession, doctor_id: int, user_id: int | None) -> bool:
    """Sets (or clears) the user account a doctor signs in with."""
    result = await session.execute(
        update(Doctor)
        .where(Doctor.id == doctor_id)
        .values(user_id=user_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ---- pharmacists -------------------------------------------------------------------------------------


async def get_pharmacist(session: AsyncSession, pharmacist_id: int) -> Pharmacist | None:
    """One pharmacist with their hospital."""
    statement = (
        select(Pharmacist).where(Pharmacist.id == pharmacist_id).options(selectinload(Pharmacist.hospital))
    )
    return (await session.scalars(statement)).first()


async def pharmacists_at(session: AsyncSession, hospital_id: int) -> list[Pharmacist]:
    """The pharmacists of a hospital."""
    rows = await session.scalars(
        select(Pharmacist)
        .where(Pharmacist.hospital_id == hospital_id)
        .options(selectinload(Pharmacist.hospital))
        .order_by(Pharmacist.id)
    )
    return list(rows)


async def insert_pharmacist(session: AsyncSession, values: dict[str, Any]) -> Pharmacist:
    """Inserts a pharmacist now, so a duplicate licence or account fails here."""
    pharmacist = Pharmacist(**values)
    session.add(pharmacist)
    await session.flush()
    return pharmacist


async def upsert_pharmacist(session: AsyncSession, values: dict[str, Any]) -> tuple[int, Upserted]:
    """Insert or update a pharmacist by licence number (the caller has checked who may change them)."""
    return await _upsert(session, Pharmacist, values, extra_where=[], bump_version=False)


async def pharmacists_by_licence(session: AsyncSession, licence_nos: Iterable[str]) -> dict[str, Pharmacist]:
    """Registered pharmacists by licence number, with their hospital."""
    wanted = sorted(set(licence_nos))
    found: dict[str, Pharmacist] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.scalars(
            select(Pharmacist)
            .where(Pharmacist.licence_no.in_(wanted[start : start + 500]))
            .options(selectinload(Pharmacist.hospital))
        )
        found.update({row.licence_no: row for row in rows})
    return found


async def link_pharmacist_user(session: AsyncSession, pharmacist_id: int, user_id: int | None) -> bool:
    """Sets (or clears) the user account a pharmacist signs in with."""
    result = await session.execute(
        update(Pharmacist)
        .where(Pharmacist.id == pharmacist_id)
        .values(user_id=user_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
