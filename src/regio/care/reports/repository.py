"""Queries of reports; never commits. Races are decided here by the database: unique constraints with
ON CONFLICT DO NOTHING, and UPDATEs whose WHERE holds the version they follow.

Patients, hospitals, consultations and appointments are read (never written) from their subdomains'
tables, to name the people and to find who has cared for a patient at a hospital.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking.models import Appointment
from regio.care.consultation.models import Consultation
from regio.care.patients.models import Patient
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
