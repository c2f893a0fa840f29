"""Queries of payment; never commits. Races are decided by the database: one live order per booking or
prescription (a partial unique index), status changes whose WHERE names the status they leave, and the
insurance year's totals moved by conditional UPDATEs that check the values the settlement was made on.

Hospitals, pharmacies and doctors are read (never written) from earlier subdomains' tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.payment.models import (
    ConsultationFee,
    DrugPrice,
    Enrolment,
    GatewayEvent,
    InsuranceYear,
    Order,
    Refund,
)
from regio.care.registry.models import Doctor, Hospital
from regio.core.db import is_sqlite


def _insert(session: AsyncSession, model: Any) -> Any:
    return (sqlite_insert if is_sqlite(session) else pg_insert)(model)


def _changed(result: Any) -> bool:
    return bool(result.rowcount)


async def hospital(session: AsyncSession, hospital_id: int) -> Hospital | None:
    return await session.get(Hospital, hospital_id)


async def doctor(session: AsyncSession, doctor_id: int) -> Doctor | None:
    return await session.get(Doctor, doctor_id)


async def consultation_fee(session: AsyncSession, hospital_id: int, mode: str, title: str) -> int | None:
    return await session.scalar(
        select(ConsultationFee.amount_fen).where(
            ConsultationFee.hospital_id == hospital_id,
            ConsultationFee.mode == mode,
            ConsultationFee.title == title,
        )
    )


async def set_consultation_fee(
    session: AsyncSession, hospital_id: int, mode: str, title: str, amount_fen: int
) -> None:
    statement = _insert(session, ConsultationFee).values(
        hospital_id=hospital_id, mode=mode, title=title, amount_fen=amount_fen
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["hospital_id", "mode", "title"],
            set_={"amount_fen": statement.excluded.amount_fen},
        )
    )


async def drug_prices(session: AsyncSession, pharmacy_id: int, codes: Iterable[str]) -> dict[str, int]:
    wanted = list(set(codes))
    if not wanted:
        return {}
    rows = await session.execute(
        select(DrugPrice.drug_code, DrugPrice.unit_price_fen).where(
            DrugPrice.pharmacy_id == pharmacy_id, DrugPrice.drug_code.in_(wanted)
        )
    )
    return {row.drug_code: row.unit_price_fen for row in rows}


async def set_drug_price(session: AsyncSession, pharmacy_id: int, drug_code: str, price_fen: int) -> None:
    statement = _insert(session, DrugPrice).values(
        pharmacy_id=pharmacy_id, drug_code=drug_code, unit_price_fen=price_fen
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["pharmacy_id", "drug_code"],
            set_={"unit_price_fen": statement.excluded.unit_price_fen},
        )
    )


# ---- insurance -----------------------------------------------------------------------------------


async def enrolment(session: AsyncSession, patient_id: int) -> Enrolment | None:
    return await session.scalar(
        select(Enrolment).where(Enrolment.patient_id == patient_id).execution_options(populate_existing=True)
    )


async def save_enrolment(session: AsyncSession, values: dict[str, Any]) -> None:
    """Inserts or updates an enrolment; the personal account balance is written only when given (the
    insurer's figure), so a patient's edit of region, scheme or diseases never touches it. Switching to
    the resident scheme, which has no account, empties it."""
    statement = _insert(session, Enrolment).values(**values)
    changes = {name: statement.excluded[name] for name in values if name != "patient_id"}
    if "personal_account_fen" not in values and values.get("scheme") == "resident":
        changes["personal_account_fen"] = 0
    await session.execute(statement.on_conflict_do_update(index_elements=["patient_id"], set_=changes))


async def year_totals(session: AsyncSession, patient_id: int, year: int) -> InsuranceYear | None:
    return await session.scalar(
        select(InsuranceYear)
        .where(InsuranceYear.patient_id == patient_id, InsuranceYear.year == year)
        .execution_options(populate_existing=True)
    )


async def ensure_year(session: AsyncSession, patient_id: int, year: int) -> None:
    await session.execute(
        _insert(session, InsuranceYear)
        .values(patient_id=patient_id, year=year, deductible_used_fen=0, fund_paid_fen=0)
        .on_conflict_do_nothing(index_elements=["patient_id", "year"])
    )


async def move_year(
    session: AsyncSession,
    patient_id: int,
    year: int,
    *,
    seen: tuple[int, int],
    deductible_delta: int,
    fund_delta: int,
) -> bool:
    """Adds to the year's totals only if they still are what the settlement was worked out on."""
    result = await session.execute(
        update(InsuranceYear)
        .where(
            InsuranceYear.patient_id == patient_id,
            InsuranceYear.year == year,
            InsuranceYear.deductible_used_fen == seen[0],
            InsuranceYear.fund_paid_fen == seen[1],
        )
        .values(
            deductible_used_fen=InsuranceYear.deductible_used_fen + deductible_delta,
            fund_paid_fen=InsuranceYear.fund_paid_fen + fund_delta,
        )
    )
    return _changed(result)


async def give_back_year(
    session: AsyncSession, patient_id: int, year: int, *, deductible_fen: int, fund_fen: int
) -> None:
    """A reversed settlement or refund returns its share of the year's totals, subtracted in SQL so a
    settlement landing at the same moment is not overwritten (the CHECK keeps them from going negative)."""
    await session.execute(
        update(InsuranceYear)
        .where(InsuranceYear.patient_id == patient_id, InsuranceYear.year == year)
        .values(
            deductible_used_fen=InsuranceYear.deductible_used_fen - deductible_fen,
            fund_paid_fen=InsuranceYear.fund_paid_fen - fund_fen,
        )
    )


async def take_account(session: AsyncSession, patient_id: int, amount_fen: int) -> bool:
    """Debits the personal account only if the balance covers it."""
    if amount_fen == 0:
        return True
    result = await session.execute(
        update(Enrolment)
        .where(Enrolment.patient_id == patient_id, Enrolment.personal_account_fen >= amount_fen)
        .values(personal_account_fen=Enrolment.personal_account_fen - amount_fen)
    )
    return _changed(result)


async def credit_account(session: AsyncSession, patient_id: int, amount_fen: int) -> None:
    if amount_fen:
        await session.execute(
            update(Enrolment)
            .where(Enrolment.patient_id == patient_id)
            .values(personal_account_fen=Enrolment.personal_account_fen + amount_fen)
        )


# ---- orders --------------------------------------------------------------------------------------


async def order(session: AsyncSession, order_id: int) -> Order | None:
    return await session.get(Order, order_id, populate_existing=True)


async def order_by_reference(session: AsyncSession, reference: str) -> Order | None:
    return await session.scalar(
        select(Order).where(Order.reference == reference).execution_options(populate_existing=True)
    )


async def live_order_for(
    session: AsyncSession, *, appointment_id: int | None, prescription_id: int | None
) -> Order | None:
    statement = select(Order).where(Order.status.in_(["pending", "paid", "partially_refunded"]))
    if appointment_id is not None:
        statement = statement.where(Order.appointment_id == appointment_id)
    else:
        statement = statement.where(Order.prescription_id == prescription_id)
    return await session.scalar(statement)


async def add_order(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Inserts an order unless a live one exists for the same booking or prescription (then None)."""
    target = "appointment_id" if values.get("appointment_id") is not None else "prescription_id"
    statement = (
        _insert(session, Order)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[target],
            index_where=Order.status.in_(["pending", "paid", "partially_refunded"])
            & getattr(Order, target).is_not(None),
        )
        .returning(Order.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def change_order(
    session: AsyncSession,
    order_id: int,
    *,
    from_statuses: Iterable[str],
    values: dict[str, Any],
    extra: Sequence[Any] = (),
) -> bool:
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(list(from_statuses)), *extra)
        .values(**values)
    )
    return _changed(result)


async def orders_of_patients(
    session: AsyncSession, patient_ids: Iterable[int], *, limit: int
) -> Sequence[Order]:
    wanted = list(set(patient_ids))
    if not wanted:
        return []
    return (
        await session.scalars(
            select(Order)
            .where(Order.patient_id.in_(wanted))
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
        )
    ).all()


async def lapsed_orders(session: AsyncSession, now: datetime, *, limit: int) -> Sequence[Order]:
    return (
        await session.scalars(
            select(Order)
            .where(Order.status == "pending", Order.expires_at < now)
            .order_by(Order.id)
            .limit(limit)
        )
    ).all()


async def hospital_orders(
    session: AsyncSession, hospital_id: int, start: datetime, end: datetime
) -> Sequence[Order]:
    return (
        await session.scalars(
            select(Order)
            .where(Order.hospital_id == hospital_id, Order.created_at >= start, Order.created_at < end)
            .order_by(Order.created_at, Order.id)
        )
    ).all()


async def add_refund(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(Refund(**values))
    await session.flush()


async def refunds_of(session: AsyncSession, order_ids: Iterable[int]) -> Sequence[Refund]:
    wanted = list(set(order_ids))
    if not wanted:
        return []
    return (
        await session.scalars(select(Refund).where(Refund.order_id.in_(wanted)).order_by(Refund.id))
    ).all()


async def hospital_refunds(
    session: AsyncSession, hospital_id: int, start: datetime, end: datetime
) -> Sequence[tuple[Refund, Order]]:
    rows = await session.execute(
        select(Refund, Order)
        .join(Order, Order.id == Refund.order_id)
        .where(Order.hospital_id == hospital_id, Refund.created_at >= start, Refund.created_at < end)
        .order_by(Refund.created_at, Refund.id)
    )
    return [(row[0], row[1]) for row in rows]


async def add_gateway_event(session: AsyncSession, values: dict[str, Any]) -> bool:
    statement = (
        _insert(session, GatewayEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["gateway", "event_id"])
        .returning(GatewayEvent.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def set_event_outcome(
    session: AsyncSession, gateway: str, event_id: str, *, applied: bool, outcome: str
) -> None:
    await session.execute(
        update(GatewayEvent)
        .where(GatewayEvent.gateway == gateway, GatewayEvent.event_id == event_id)
        .values(applied=applied, outcome=outcome)
    )
