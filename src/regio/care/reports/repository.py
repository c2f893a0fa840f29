"""Queries of reports and of the regional statistics; never commits. Races are decided here by the
database: unique constraints with ON CONFLICT DO NOTHING, and UPDATEs whose WHERE holds the version they
follow.

Patients, hospitals, consultations and appointments are read (never written) from their subdomains'
tables, to name the people and to find who has cared for a patient at a hospital. The regional statistics
count completed consultations and approved prescriptions here, by Beijing day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    case,
    cast,
    extract,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking.models import Appointment
from regio.care.consultation.enums import Status as ConsultationStatus
from regio.care.consultation.models import Consultation
from regio.care.patients.models import Patient
from regio.care.prescription.enums import Status as PrescriptionStatus
from regio.care.prescription.models import Prescription
from regio.care.registry.models import Hospital
from regio.care.reports.models import Observation, Report, ReportVersion
from regio.core.db import is_sqlite


def _insert(session: AsyncSession, model: Any) -> Any:
    return (sqlite_insert if is_sqlite(session) else pg_insert)(model)


# ---- who and where ---------------------------------------------------------------------------------


async def hospital_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    result = await session.execute(select(Hospital.id, Hospital.name).where(Hospital.id.in_(ids)))
    return {row_id: name for row_id, name in result.all()}


async def patient_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    result = await session.execute(select(Patient.id, Patient.name).where(Patient.id.in_(ids)))
    return {row_id: name for row_id, name in result.all()}


async def patient_exists(session: AsyncSession, patient_id: int) -> bool:
    result = await session.execute(select(Patient.id).where(Patient.id == patient_id))
    return result.scalar_one_or_none() is not None


async def cared_for_at(session: AsyncSession, patient_id: int, hospital_id: int) -> bool:
    """Whether the patient has had a consultation or a booking (of any outcome) at the hospital."""
    consulted = await session.execute(
        select(Consultation.id)
        .where(Consultation.patient_id == patient_id, Consultation.hospital_id == hospital_id)
        .limit(1)
    )
    if consulted.scalar_one_or_none() is not None:
        return True
    booked = await session.execute(
        select(Appointment.id)
        .where(Appointment.patient_id == patient_id, Appointment.hospital_id == hospital_id)
        .limit(1)
    )
    return booked.scalar_one_or_none() is not None


async def treating_doctor_ids(session: AsyncSession, patient_id: int, hospital_id: int) -> frozenset[int]:
    result = await session.execute(
        select(Consultation.doctor_id)
        .where(Consultation.patient_id == patient_id, Consultation.hospital_id == hospital_id)
        .distinct()
    )
    return frozenset(result.scalars())


# ---- reports and versions ---------------------------------------------------------------------------


async def report_by_id(session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id, populate_existing=True)


async def report_by_identifier(session: AsyncSession, hospital_id: int, identifier: str) -> Report | None:
    result = await session.execute(
        select(Report)
        .where(Report.hospital_id == hospital_id, Report.identifier == identifier)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def open_report(session: AsyncSession, values: dict[str, Any]) -> Report:
    """The hospital's report of that number, made now unless it exists (two first pushes make one)."""
    await session.execute(
        _insert(session, Report)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["hospital_id", "identifier"])
    )
    found = await report_by_identifier(session, values["hospital_id"], values["identifier"])
    assert found is not None
    return found


async def version_with_hash(session: AsyncSession, report_id: int, content_hash: str) -> ReportVersion | None:
    result = await session.execute(
        select(ReportVersion).where(
            ReportVersion.report_id == report_id, ReportVersion.content_hash == content_hash
        )
    )
    return result.scalar_one_or_none()


async def version(session: AsyncSession, report_id: int, number: int) -> ReportVersion | None:
    result = await session.execute(
        select(ReportVersion).where(ReportVersion.report_id == report_id, ReportVersion.version == number)
    )
    return result.scalar_one_or_none()


async def versions(session: AsyncSession, report_id: int) -> list[ReportVersion]:
    result = await session.execute(
        select(ReportVersion)
        .where(ReportVersion.report_id == report_id)
        .order_by(ReportVersion.version.desc())
    )
    return list(result.scalars())


async def insert_version(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Adds a version; None if its number or its content is already there (someone pushed at once)."""
    result = await session.execute(
        _insert(session, ReportVersion).values(**values).on_conflict_do_nothing().returning(ReportVersion.id)
    )
    found: int | None = result.scalar_one_or_none()
    return found


async def add_observations(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Observation), rows)


async def observations(session: AsyncSession, version_id: int) -> list[Observation]:
    result = await session.execute(
        select(Observation).where(Observation.version_id == version_id).order_by(Observation.position)
    )
    return list(result.scalars())


async def advance(session: AsyncSession, report_id: int, *, after: int, values: dict[str, Any]) -> bool:
    """Points the report at its new newest version, if it still stands at `after`."""
    result = await session.execute(
        update(Report)
        .where(Report.id == report_id, Report.latest_version == after)
        .values(latest_version=after + 1, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def reports_of_patients(
    session: AsyncSession, patient_ids: frozenset[int], *, limit: int = 200
) -> list[Report]:
    """The patients' reports that have a version, newest issued first."""
    if not patient_ids:
        return []
    result = await session.execute(
        select(Report)
        .where(Report.patient_id.in_(patient_ids), Report.latest_version >= 1)
        .order_by(Report.issued_at.desc(), Report.id.desc())
        .limit(limit)
    )
    return list(result.scalars())


# ---- regional statistics -----------------------------------------------------------------------------

# China has kept UTC+8 all year since 1991, so SQLite may shift by a fixed offset.
_SQLITE_SHIFT = "+8 hours"


class Coverage(Protocol):
    """The hospitals a statistics reader may cover (statistics.Reach), as the queries need it."""

    @property
    def everything(self) -> bool: ...

    @property
    def regions(self) -> frozenset[str]: ...

    @property
    def hospitals(self) -> frozenset[int]: ...


@dataclass(frozen=True, slots=True)
class Bucket:
    """One row of the SQL aggregate: services completed on one day, in one department, started in one hour."""

    day: date
    hospital_id: int
    department_code: str
    hour: int | None  # Beijing hour the consultations started; None if a start was never recorded
    services: int
    wait_minutes: float  # summed over the consultations with a start


def _beijing_day(column: Any, sqlite: bool) -> ColumnElement[Any]:
    if sqlite:
        return func.date(column, _SQLITE_SHIFT)
    return cast(func.timezone("Asia/Shanghai", column), Date)


def _beijing_hour(column: Any, sqlite: bool) -> ColumnElement[Any]:
    if sqlite:
        return cast(func.strftime("%H", column, _SQLITE_SHIFT), Integer)
    return cast(extract("hour", func.timezone("Asia/Shanghai", column)), Integer)


def _wait_minutes(sqlite: bool) -> ColumnElement[Any]:
    """started_at − the later of scheduled_at and created_at, in minutes, never below zero."""
    started, scheduled, created = Consultation.started_at, Consultation.scheduled_at, Consultation.created_at
    if sqlite:
        # SQLite keeps these as ISO text in one format, so the larger text is the later time.
        minutes = (func.julianday(started) - func.julianday(func.max(scheduled, created))) * 1440.0
        clamped: ColumnElement[Any] = func.max(minutes, 0.0)
    else:
        seconds = extract("epoch", started - func.greatest(scheduled, created))
        clamped = func.greatest(seconds / 60.0, 0.0)
    return case((started.is_not(None), cast(clamped, Float)), else_=None)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _scope_filters(
    reach: Coverage, *, hospital_column: Any, region: str | None, hospital_id: int | None
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if not reach.everything:
        allowed: list[ColumnElement[bool]] = []
        if reach.regions:
            allowed.append(Hospital.region_adcode.in_(sorted(reach.regions)))
        if reach.hospitals:
            allowed.append(hospital_column.in_(sorted(reach.hospitals)))
        filters.append(or_(*allowed) if allowed else false())
    if region is not None:
        filters.append(Hospital.region_adcode == region)
    if hospital_id is not None:
        filters.append(hospital_column == hospital_id)
    return filters


async def hospital_region(session: AsyncSession, hospital_id: int) -> str | None:
    """The hospital's region adcode; None if there is no such hospital."""
    found: str | None = await session.scalar(select(Hospital.region_adcode).where(Hospital.id == hospital_id))
    return found


async def service_buckets(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    reach: Coverage,
    region: str | None,
    hospital_id: int | None,
) -> list[Bucket]:
    """Completed consultations in [start, end) within the reach, counted per Beijing day, department and
    start hour."""
    sqlite = is_sqlite(session)
    filters = _scope_filters(
        reach, hospital_column=Consultation.hospital_id, region=region, hospital_id=hospital_id
    )
    # Per-row figures in a subquery, grouped outside it: PostgreSQL then groups by plain columns,
    # not by expressions whose bound parameters it cannot match between SELECT and GROUP BY.
    per_row = (
        select(
            _beijing_day(Consultation.completed_at, sqlite).label("day"),
            Consultation.hospital_id.label("hospital_id"),
            Consultation.department_code.label("department_code"),
            _beijing_hour(Consultation.started_at, sqlite).label("hour"),
            _wait_minutes(sqlite).label("wait"),
        )
        .join(Hospital, Hospital.id == Consultation.hospital_id)
        .where(
            Consultation.status == ConsultationStatus.completed.value,
            Consultation.completed_at >= start,
            Consultation.completed_at < end,
            *filters,
        )
        .subquery()
    )
    grouped = select(
        per_row.c.day,
        per_row.c.hospital_id,
        per_row.c.department_code,
        per_row.c.hour,
        func.count().label("services"),
        func.coalesce(func.sum(per_row.c.wait), literal(0.0)).label("wait"),
    ).group_by(per_row.c.day, per_row.c.hospital_id, per_row.c.department_code, per_row.c.hour)
    result = await session.execute(grouped)
    return [
        Bucket(
            day=_as_date(row.day),
            hospital_id=int(row.hospital_id),
            department_code=str(row.department_code),
            hour=None if row.hour is None else int(row.hour),
            services=int(row.services),
            wait_minutes=float(row.wait or 0.0),
        )
        for row in result
    ]


async def approved_prescriptions(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    reach: Coverage,
    region: str | None,
    hospital_id: int | None,
) -> dict[date, int]:
    """Prescriptions a pharmacist approved, by the Beijing day of the approval (reviewed_at)."""
    sqlite = is_sqlite(session)
    filters = _scope_filters(
        reach, hospital_column=Prescription.hospital_id, region=region, hospital_id=hospital_id
    )
    per_row = (
        select(_beijing_day(Prescription.reviewed_at, sqlite).label("day"))
        .join(Hospital, Hospital.id == Prescription.hospital_id)
        .where(
            Prescription.status.in_([PrescriptionStatus.approved.value, PrescriptionStatus.dispensed.value]),
            Prescription.reviewed_at >= start,
            Prescription.reviewed_at < end,
            *filters,
        )
        .subquery()
    )
    result = await session.execute(select(per_row.c.day, func.count()).group_by(per_row.c.day))
    return {_as_date(day): int(count) for day, count in result.all()}
