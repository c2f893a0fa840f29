"""Queries of prescriptions, the catalog, pharmacies and deliveries; never commits. Races are decided by
the database: UPDATEs whose WHERE holds the condition (status, revision, reviewer, stock), and unique
constraints (one fulfilment and one dispense per prescription, one row per courier event).

Consultations, patients, doctors and hospitals are read (never written) from their subdomains' tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.consultation.models import Consultation
from regio.care.patients.models import Patient
from regio.care.prescription.models import (
    CourierEvent,
    Dispense,
    Drug,
    Fulfilment,
    Pharmacy,
    Prescription,
    SigningKey,
    Stock,
)
from regio.care.registry.models import Doctor, Hospital
from regio.core.db import is_sqlite


def _insert(session: AsyncSession, model: Any) -> Any:
    return (sqlite_insert if is_sqlite(session) else pg_insert)(model)


# ---- read from earlier subdomains ---------------------------------------------------------------


async def consultation(session: AsyncSession, consultation_id: int) -> Consultation | None:
    return await session.get(Consultation, consultation_id, populate_existing=True)


async def patient(session: AsyncSession, patient_id: int) -> Patient | None:
    return await session.get(Patient, patient_id)


async def doctor_names(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Doctor.id, Doctor.real_name).where(Doctor.id.in_(wanted)))
    return {row.id: row.real_name for row in rows}


async def hospital(session: AsyncSession, hospital_id: int) -> Hospital | None:
    return await session.get(Hospital, hospital_id)


# ---- catalog ---------------------------------------------------------------------------------------


async def drugs_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, Drug]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = (await session.scalars(select(Drug).where(Drug.code.in_(wanted)))).all()
    return {row.code: row for row in rows}


async def search_drugs(session: AsyncSession, query: str, *, limit: int) -> Sequence[Drug]:
    """Names, brands and pinyin initials by substring; codes and ATC codes by prefix."""
    statement = select(Drug)
    needle = query.strip().lower()
    if needle:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(
            or_(
                Drug.search_text.like(f"%{escaped}%", escape="\\"),
                func.lower(Drug.code).like(f"{escaped}%", escape="\\"),
                func.lower(Drug.atc).like(f"{escaped}%", escape="\\"),
            )
        )
    # Shorter names first: "阿司匹林" before "阿司匹林肠溶片…" variants, then by code for a stable order.
    statement = statement.order_by(func.length(Drug.name_zh), Drug.code).limit(limit)
    return (await session.scalars(statement)).all()


async def upsert_drugs(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = _insert(session, Drug).values(rows)
    columns = {name: statement.excluded[name] for name in rows[0] if name != "code"}
    await session.execute(statement.on_conflict_do_update(index_elements=["code"], set_=columns))


async def drug_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Drug)) or 0)


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    wanted = set(codes)
    if not wanted:
        return set()
    return set((await session.scalars(select(Drug.code).where(Drug.code.in_(wanted)))).all())


# ---- signing keys ----------------------------------------------------------------------------------


async def active_key(session: AsyncSession, doctor_id: int) -> SigningKey | None:
    return await session.scalar(
        select(SigningKey)
        .where(SigningKey.doctor_id == doctor_id, SigningKey.revoked_at.is_(None))
        .execution_options(populate_existing=True)
    )


async def key_by_id(session: AsyncSession, key_id: str) -> SigningKey | None:
    return await session.scalar(select(SigningKey).where(SigningKey.key_id == key_id))


async def keys_by_id(session: AsyncSession, key_ids: Iterable[str]) -> dict[str, SigningKey]:
    wanted = set(key_ids)
    if not wanted:
        return {}
    rows = (await session.scalars(select(SigningKey).where(SigningKey.key_id.in_(wanted)))).all()
    return {row.key_id: row for row in rows}


async def set_key_failures(
    session: AsyncSession, key_pk: int, *, failed_attempts: int, locked_until: datetime | None
) -> None:
    await session.execute(
        update(SigningKey)
        .where(SigningKey.id == key_pk)
        .values(failed_attempts=failed_attempts, locked_until=locked_until)
    )


async def reserve_pin_attempt(session: AsyncSession, key_pk: int, *, now: datetime) -> int | None:
    """Counts one signing try before the PIN is tested; None while signing is locked."""
    result = await session.execute(
        update(SigningKey)
        .where(
            SigningKey.id == key_pk,
            or_(SigningKey.locked_until.is_(None), SigningKey.locked_until <= now),
        )
        .values(failed_attempts=SigningKey.failed_attempts + 1, locked_until=None)
        .returning(SigningKey.failed_attempts)
    )
    found = result.scalar_one_or_none()
    return int(found) if found is not None else None


async def lock_key(
    session: AsyncSession, key_pk: int, *, until: datetime, now: datetime | None = None
) -> datetime:
    """Locks signing until a time and clears the count; with `now`, a lock already running is kept.
    Returns when the lock in force ends."""
    conditions = [SigningKey.id == key_pk]
    if now is not None:
        conditions.append(or_(SigningKey.locked_until.is_(None), SigningKey.locked_until <= now))
    await session.execute(update(SigningKey).where(*conditions).values(locked_until=until, failed_attempts=0))
    current = await session.scalar(select(SigningKey.locked_until).where(SigningKey.id == key_pk))
    return current or until


async def revoke_key(session: AsyncSession, key_pk: int, at: datetime) -> bool:
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.id == key_pk, SigningKey.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ---- prescriptions ---------------------------------------------------------------------------------


async def get(session: AsyncSession, prescription_id: int) -> Prescription | None:
    return await session.get(Prescription, prescription_id, populate_existing=True)


async def change_status(
    session: AsyncSession,
    prescription_id: int,
    *,
    from_statuses: Iterable[str],
    values: dict[str, Any],
    revision: int | None = None,
    reviewer_user_id: int | None = None,
) -> bool:
    """The one way a prescription changes: only from the named statuses (and revision, and reviewer)."""
    conditions = [Prescription.id == prescription_id, Prescription.status.in_(list(from_statuses))]
    if revision is not None:
        conditions.append(Prescription.revision == revision)
    if reviewer_user_id is not None:
        conditions.append(Prescription.reviewer_user_id == reviewer_user_id)
    result = await session.execute(update(Prescription).where(*conditions).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_paid(session: AsyncSession, prescription_id: int, *, at: datetime) -> bool:
    result = await session.execute(
        update(Prescription)
        .where(
            Prescription.id == prescription_id,
            Prescription.status == "approved",
            Prescription.paid_at.is_(None),
        )
        .values(paid_at=at, updated_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def of_patients(
    session: AsyncSession, patient_ids: Iterable[int], *, limit: int
) -> Sequence[Prescription]:
    wanted = list(set(patient_ids))
    if not wanted:
        return []
    return (
        await session.scalars(
            select(Prescription)
            .where(Prescription.patient_id.in_(wanted), Prescription.signed_at.is_not(None))
            .order_by(Prescription.created_at.desc(), Prescription.id.desc())
            .limit(limit)
        )
    ).all()


async def of_doctor(session: AsyncSession, doctor_id: int, *, limit: int) -> Sequence[Prescription]:
    return (
        await session.scalars(
            select(Prescription)
            .where(Prescription.doctor_id == doctor_id)
            .order_by(Prescription.created_at.desc(), Prescription.id.desc())
            .limit(limit)
        )
    ).all()


async def of_consultation(session: AsyncSession, consultation_id: int) -> Sequence[Prescription]:
    return (
        await session.scalars(
            select(Prescription)
            .where(Prescription.consultation_id == consultation_id)
            .order_by(Prescription.id)
        )
    ).all()


async def review_queue(
    session: AsyncSession, hospital_ids: Iterable[int], *, limit: int
) -> Sequence[Prescription]:
    return (
        await session.scalars(
            select(Prescription)
            .where(
                Prescription.hospital_id.in_(list(hospital_ids)),
                Prescription.status.in_(["submitted", "in_review"]),
            )
            .order_by(Prescription.submitted_at, Prescription.id)
            .limit(limit)
        )
    ).all()


async def flag_overdue(session: AsyncSession, now: datetime) -> Sequence[Prescription]:
    """Marks reviews past their due time once; returns those marked now (each is told once)."""
    due = (
        await session.scalars(
            select(Prescription.id).where(
                Prescription.status.in_(["submitted", "in_review"]),
                Prescription.review_due_at < now,
                Prescription.overdue_flagged_at.is_(None),
            )
        )
    ).all()
    flagged = []
    for prescription_id in due:
        result = await session.execute(
            update(Prescription)
            .where(Prescription.id == prescription_id, Prescription.overdue_flagged_at.is_(None))
            .values(overdue_flagged_at=now)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            row = await get(session, prescription_id)
            if row is not None:
                flagged.append(row)
    return flagged


async def earlier_of_patient(
    session: AsyncSession, patient_id: int, before: datetime
) -> Sequence[Prescription]:
    return (
        await session.scalars(
            select(Prescription).where(
                Prescription.patient_id == patient_id,
                Prescription.created_at <= before,
                Prescription.status.in_(["approved", "dispensed"]),
            )
        )
    ).all()


async def hospital_prescriptions(
    session: AsyncSession, hospital_id: int, *, start: datetime, end: datetime
) -> Sequence[Prescription]:
    return (
        await session.scalars(
            select(Prescription).where(
                Prescription.hospital_id == hospital_id,
                Prescription.signed_at.is_not(None),
                Prescription.signed_at >= start,
                Prescription.signed_at < end,
            )
        )
    ).all()


# ---- pharmacies, stock, fulfilment -----------------------------------------------------------------


async def pharmacy(session: AsyncSession, pharmacy_id: int) -> Pharmacy | None:
    return await session.get(Pharmacy, pharmacy_id)


async def pharmacies_in(session: AsyncSession, region_adcode: str, hospital_id: int) -> Sequence[Pharmacy]:
    """The prescribing hospital's own pharmacy and the region's retail pharmacies."""
    return (
        await session.scalars(
            select(Pharmacy)
            .where(
                or_(
                    Pharmacy.hospital_id == hospital_id,
                    (Pharmacy.kind == "retail") & (Pharmacy.region_adcode == region_adcode),
                )
            )
            .order_by(Pharmacy.kind, Pharmacy.id)
        )
    ).all()


async def stock_of(
    session: AsyncSession, pharmacy_ids: Iterable[int], codes: Iterable[str]
) -> dict[tuple[int, str], int]:
    ids, wanted = list(set(pharmacy_ids)), list(set(codes))
    if not ids or not wanted:
        return {}
    rows = await session.execute(
        select(Stock.pharmacy_id, Stock.drug_code, Stock.quantity).where(
            Stock.pharmacy_id.in_(ids), Stock.drug_code.in_(wanted)
        )
    )
    return {(row.pharmacy_id, row.drug_code): row.quantity for row in rows}


async def take_stock(session: AsyncSession, pharmacy_id: int, drug_code: str, quantity: int) -> bool:
    """Takes units off a shelf only if that many are there: the WHERE decides, never Python."""
    result = await session.execute(
        update(Stock)
        .where(Stock.pharmacy_id == pharmacy_id, Stock.drug_code == drug_code, Stock.quantity >= quantity)
        .values(quantity=Stock.quantity - quantity)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def return_stock(session: AsyncSession, pharmacy_id: int, drug_code: str, quantity: int) -> None:
    await session.execute(
        update(Stock)
        .where(Stock.pharmacy_id == pharmacy_id, Stock.drug_code == drug_code)
        .values(quantity=Stock.quantity + quantity)
    )


async def end_fulfilment(session: AsyncSession, fulfilment_id: int, *, at: datetime) -> None:
    """Ends a failed delivery's fulfilment (kept, with its courier events) so the patient can choose again."""
    await session.execute(
        update(Fulfilment)
        .where(Fulfilment.id == fulfilment_id, Fulfilment.ended_at.is_(None))
        .values(ended_at=at)
    )


async def set_stock(session: AsyncSession, pharmacy_id: int, drug_code: str, quantity: int) -> None:
    statement = _insert(session, Stock).values(
        pharmacy_id=pharmacy_id, drug_code=drug_code, quantity=quantity
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["pharmacy_id", "drug_code"], set_={"quantity": statement.excluded.quantity}
        )
    )


async def add_fulfilment(session: AsyncSession, values: dict[str, Any]) -> bool:
    """One live fulfilment per prescription: a second choice at the same moment inserts nothing. A
    pickup code already open at that pharmacy (1 in 10^8) raises IntegrityError for the caller to retry."""
    statement = (
        _insert(session, Fulfilment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["prescription_id"], index_where=text("ended_at IS NULL"))
        .returning(Fulfilment.id)
    )
    async with session.begin_nested():
        return (await session.execute(statement)).scalar_one_or_none() is not None


async def fulfilment_of(session: AsyncSession, prescription_id: int) -> Fulfilment | None:
    return await session.scalar(
        select(Fulfilment)
        .where(Fulfilment.prescription_id == prescription_id, Fulfilment.ended_at.is_(None))
        .execution_options(populate_existing=True)
    )


async def fulfilment_by_code(session: AsyncSession, pharmacy_id: int, code: str) -> Fulfilment | None:
    return await session.scalar(
        select(Fulfilment).where(
            Fulfilment.pharmacy_id == pharmacy_id,
            Fulfilment.pickup_code == code,
            Fulfilment.pickup_used_at.is_(None),
            Fulfilment.ended_at.is_(None),
        )
    )


async def use_pickup_code(session: AsyncSession, fulfilment_id: int, at: datetime) -> bool:
    result = await session.execute(
        update(Fulfilment)
        .where(Fulfilment.id == fulfilment_id, Fulfilment.pickup_used_at.is_(None))
        .values(pickup_used_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def fulfilment_by_tracking(session: AsyncSession, tracking_id: str) -> Fulfilment | None:
    return await session.scalar(
        select(Fulfilment)
        .where(Fulfilment.tracking_id == tracking_id, Fulfilment.ended_at.is_(None))
        .execution_options(populate_existing=True)
    )


async def set_tracking(session: AsyncSession, fulfilment_id: int, *, courier: str, tracking_id: str) -> bool:
    result = await session.execute(
        update(Fulfilment)
        .where(Fulfilment.id == fulfilment_id, Fulfilment.tracking_id.is_(None))
        .values(courier=courier, tracking_id=tracking_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def advance_delivery(
    session: AsyncSession,
    fulfilment_id: int,
    *,
    status: str,
    occurred_at: datetime,
    later_than: Sequence[str],
) -> bool:
    """Moves a delivery forward only: from an earlier state, and with a newer event time."""
    result = await session.execute(
        update(Fulfilment)
        .where(
            Fulfilment.id == fulfilment_id,
            Fulfilment.delivery_status.in_(list(later_than)),
            or_(Fulfilment.delivery_event_at.is_(None), Fulfilment.delivery_event_at < occurred_at),
        )
        .values(delivery_status=status, delivery_event_at=occurred_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_courier_event(session: AsyncSession, values: dict[str, Any]) -> bool:
    statement = (
        _insert(session, CourierEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["courier", "event_id"])
        .returning(CourierEvent.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def mark_event_applied(session: AsyncSession, courier: str, event_id: str) -> None:
    await session.execute(
        update(CourierEvent)
        .where(CourierEvent.courier == courier, CourierEvent.event_id == event_id)
        .values(applied=True)
    )


async def courier_events(session: AsyncSession, tracking_id: str) -> Sequence[CourierEvent]:
    return (
        await session.scalars(
            select(CourierEvent)
            .where(CourierEvent.tracking_id == tracking_id)
            .order_by(CourierEvent.occurred_at, CourierEvent.id)
        )
    ).all()


async def add_dispense(session: AsyncSession, values: dict[str, Any]) -> bool:
    statement = (
        _insert(session, Dispense)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["prescription_id"])
        .returning(Dispense.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def dispense_of(session: AsyncSession, prescription_id: int) -> Dispense | None:
    return await session.scalar(select(Dispense).where(Dispense.prescription_id == prescription_id))
