"""Queries of clinical records; never commits. Races are decided here by the database: unique
constraints with ON CONFLICT DO NOTHING, and UPDATEs whose WHERE holds the condition.

Consultations, patients and hospitals are read (never written) from their subdomains' tables: a
record copies its consultation's parties once, when it is opened.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.consultation.models import Consultation
from regio.care.patients.models import Patient
from regio.care.records.models import ClinicalRecord, FirstVisitPolicy, PriorDiagnosis, RecordVersion
from regio.care.registry.models import Hospital
from regio.core.db import is_sqlite


def _insert(session: AsyncSession, model: Any) -> Any:
    return (sqlite_insert if is_sqlite(session) else pg_insert)(model)


def _changed(result: Any) -> bool:
    return bool(result.rowcount)


# ---- what a record is about ---------------------------------------------------------------------


async def consultation(session: AsyncSession, consultation_id: int) -> Consultation | None:
    return await session.get(Consultation, consultation_id, populate_existing=True)


async def patient_birth_date(session: AsyncSession, patient_id: int) -> date | None:
    result = await session.execute(select(Patient.birth_date).where(Patient.id == patient_id))
    return result.scalar_one_or_none()


async def hospital_region(session: AsyncSession, hospital_id: int) -> str | None:
    result = await session.execute(select(Hospital.region_adcode).where(Hospital.id == hospital_id))
    return result.scalar_one_or_none()


async def hospital_exists(session: AsyncSession, hospital_id: int) -> bool:
    return await hospital_region(session, hospital_id) is not None


async def patient_exists(session: AsyncSession, patient_id: int) -> bool:
    return await patient_birth_date(session, patient_id) is not None


# ---- records and versions ------------------------------------------------------------------------


async def record_for_consultation(session: AsyncSession, consultation_id: int) -> ClinicalRecord | None:
    result = await session.execute(
        select(ClinicalRecord)
        .where(ClinicalRecord.consultation_id == consultation_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def record_by_id(session: AsyncSession, record_id: int) -> ClinicalRecord | None:
    return await session.get(ClinicalRecord, record_id, populate_existing=True)


async def open_record(session: AsyncSession, values: dict[str, Any]) -> ClinicalRecord:
    """The consultation's record, made now unless it exists (two first writes make one record)."""
    await session.execute(
        _insert(session, ClinicalRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["consultation_id"])
    )
    record = await record_for_consultation(session, values["consultation_id"])
    assert record is not None
    return record


async def insert_version(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Adds a version unless that number is taken (then False: someone else wrote it first)."""
    result = await session.execute(
        _insert(session, RecordVersion)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["record_id", "version"])
    )
    return _changed(result)


async def version(session: AsyncSession, record_id: int, number: int) -> RecordVersion | None:
    result = await session.execute(
        select(RecordVersion)
        .where(RecordVersion.record_id == record_id, RecordVersion.version == number)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def versions(session: AsyncSession, record_id: int) -> list[RecordVersion]:
    result = await session.execute(
        select(RecordVersion)
        .where(RecordVersion.record_id == record_id)
        .order_by(RecordVersion.version.desc())
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def advance_latest(session: AsyncSession, record_id: int, *, to: int, now: datetime) -> bool:
    result = await session.execute(
        update(ClinicalRecord)
        .where(ClinicalRecord.id == record_id, ClinicalRecord.latest_version == to - 1)
        .values(latest_version=to, updated_at=now)
    )
    return _changed(result)


async def update_draft(
    session: AsyncSession, version_id: int, *, revision: int, values: dict[str, Any]
) -> bool:
    """Changes an unsigned version still at `revision`; a signed one is never touched."""
    result = await session.execute(
        update(RecordVersion)
        .where(
            RecordVersion.id == version_id,
            RecordVersion.signed_at.is_(None),
            RecordVersion.revision == revision,
        )
        .values(revision=revision + 1, **values)
    )
    return _changed(result)


async def sign_version(
    session: AsyncSession,
    version_id: int,
    *,
    revision: int,
    signed_at: datetime,
    user_id: int,
    content_hash: str,
) -> bool:
    """Signs and locks a version, if it is unsigned and still at the revision whose content was hashed."""
    result = await session.execute(
        update(RecordVersion)
        .where(
            RecordVersion.id == version_id,
            RecordVersion.signed_at.is_(None),
            RecordVersion.revision == revision,
        )
        .values(signed_at=signed_at, signed_by_user_id=user_id, content_hash=content_hash)
    )
    return _changed(result)


async def update_record(session: AsyncSession, record_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(ClinicalRecord).where(ClinicalRecord.id == record_id).values(**values))


async def signed_records_of_patients(
    session: AsyncSession, patient_ids: frozenset[int], *, limit: int = 200
) -> list[tuple[ClinicalRecord, RecordVersion]]:
    """Each record of these patients with its newest signed version, newest first."""
    if not patient_ids:
        return []
    result = await session.execute(
        select(ClinicalRecord, RecordVersion)
        .join(RecordVersion, RecordVersion.record_id == ClinicalRecord.id)
        .where(ClinicalRecord.patient_id.in_(patient_ids), RecordVersion.signed_at.is_not(None))
        .order_by(RecordVersion.signed_at.desc(), RecordVersion.version.desc())
        .limit(limit * 4)
    )
    newest: dict[int, tuple[ClinicalRecord, RecordVersion]] = {}
    for record, version_row in result.all():
        if record.id not in newest:
            newest[record.id] = (record, version_row)
    return list(newest.values())[:limit]


async def delete_record(session: AsyncSession, record_id: int) -> None:
    # Versions point at their predecessors: newest first.
    for row in await versions(session, record_id):
        await session.execute(delete(RecordVersion).where(RecordVersion.id == row.id))
    await session.execute(delete(ClinicalRecord).where(ClinicalRecord.id == record_id))


# ---- prior offline diagnoses ---------------------------------------------------------------------


async def priors_of_patient(session: AsyncSession, patient_id: int) -> list[PriorDiagnosis]:
    result = await session.execute(
        select(PriorDiagnosis)
        .where(PriorDiagnosis.patient_id == patient_id)
        .order_by(PriorDiagnosis.diagnosed_on.desc(), PriorDiagnosis.id.desc())
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def prior(session: AsyncSession, prior_id: int) -> PriorDiagnosis | None:
    return await session.get(PriorDiagnosis, prior_id, populate_existing=True)


async def add_prior(session: AsyncSession, values: dict[str, Any]) -> PriorDiagnosis:
    row = PriorDiagnosis(**values)
    session.add(row)
    await session.flush()
    return row


async def confirm_prior(
    session: AsyncSession, prior_id: int, *, doctor_id: int, consultation_id: int, now: datetime
) -> bool:
    """Confirms an upload once: the WHERE holds "not confirmed yet"."""
    result = await session.execute(
        update(PriorDiagnosis)
        .where(
            PriorDiagnosis.id == prior_id,
            PriorDiagnosis.source == "uploaded_record",
            PriorDiagnosis.confirmed_by_doctor_id.is_(None),
        )
        .values(
            confirmed_by_doctor_id=doctor_id, confirmed_at=now, confirmed_in_consultation_id=consultation_id
        )
    )
    return _changed(result)


# ---- first-visit policies ------------------------------------------------------------------------


async def policies(session: AsyncSession) -> list[FirstVisitPolicy]:
    result = await session.execute(
        select(FirstVisitPolicy).order_by(FirstVisitPolicy.key, FirstVisitPolicy.version)
    )
    return list(result.scalars())


async def policy_keys_versions(session: AsyncSession) -> set[tuple[str, int]]:
    result = await session.execute(select(FirstVisitPolicy.key, FirstVisitPolicy.version))
    return {(key, number) for key, number in result.all()}


async def insert_policy(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Adds one policy version unless (key, version) exists; False then."""
    result = await session.execute(
        _insert(session, FirstVisitPolicy)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key", "version"])
    )
    return _changed(result)


async def newest_policy_version(session: AsyncSession, key: str) -> int:
    result = await session.execute(
        select(FirstVisitPolicy.version)
        .where(FirstVisitPolicy.key == key)
        .order_by(FirstVisitPolicy.version.desc())
        .limit(1)
    )
    return result.scalar_one_or_none() or 0
