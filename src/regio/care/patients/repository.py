"""Queries over patients and bindings; flushes but never commits (the service owns the transaction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients.idnumber import Sex
from regio.care.patients.models import BindingStatus, EndReason, Patient, PatientBinding, Relation
from regio.core.identity.models import User


async def add_patient(
    session: AsyncSession,
    *,
    name: str,
    id_number_ciphertext: bytes,
    id_number_hash: str,
    phone_ciphertext: bytes,
    phone_hash: str,
    birth_date: date,
    sex: Sex,
    user_id: int | None,
    created_by_user_id: int | None,
) -> Patient:
    """Inserts now, so that a duplicate number fails here on the unique hash, inside the caller's transaction."""
    patient = Patient(
        name=name,
        id_number_ciphertext=id_number_ciphertext,
        id_number_hash=id_number_hash,
        phone_ciphertext=phone_ciphertext,
        phone_hash=phone_hash,
        birth_date=birth_date,
        sex=sex,
        user_id=user_id,
        created_by_user_id=created_by_user_id,
    )
    session.add(patient)
    await session.flush()
    return patient


async def add_binding(
    session: AsyncSession,
    *,
    user_id: int,
    patient_id: int,
    relation: Relation,
    is_guardian: bool,
    status: BindingStatus,
    requested_by_user_id: int,
    now: datetime,
) -> PatientBinding:
    """Inserts now, so the open-pair and one-self indexes decide races here."""
    active = status is BindingStatus.active
    binding = PatientBinding(
        user_id=user_id,
        patient_id=patient_id,
        relation=relation,
        is_guardian=is_guardian,
        status=status,
        requested_by_user_id=requested_by_user_id,
        requested_at=now,
        accepted_by_user_id=requested_by_user_id if active else None,
        accepted_at=now if active else None,
    )
    session.add(binding)
    await session.flush()
    return binding


async def patient_by_id(session: AsyncSession, patient_id: int) -> Patient | None:
    return await session.get(Patient, patient_id)


async def patient_by_id_number_hash(session: AsyncSession, id_number_hash: str) -> Patient | None:
    result = await session.execute(select(Patient).where(Patient.id_number_hash == id_number_hash))
    return result.scalar_one_or_none()


async def binding_by_id(session: AsyncSession, binding_id: int) -> PatientBinding | None:
    return await session.get(PatientBinding, binding_id)


async def open_bindings_of_patient(session: AsyncSession, patient_id: int) -> list[PatientBinding]:
    result = await session.execute(
        select(PatientBinding)
        .where(PatientBinding.patient_id == patient_id, PatientBinding.status != BindingStatus.ended)
        .order_by(PatientBinding.id)
    )
    return list(result.scalars())


def _active_of_user(user_id: int) -> Select[Any]:
    return select(PatientBinding.patient_id).where(
        PatientBinding.user_id == user_id, PatientBinding.status == BindingStatus.active
    )


async def actable_patient_ids(session: AsyncSession, user_id: int) -> frozenset[int]:
    result = await session.execute(_active_of_user(user_id))
    return frozenset(result.scalars())


async def active_bindings_of_user(
    session: AsyncSession, user_id: int
) -> list[tuple[PatientBinding, Patient]]:
    """Self first, then family members in the order they were bound."""
    result = await session.execute(
        select(PatientBinding, Patient)
        .join(Patient, Patient.id == PatientBinding.patient_id)
        .where(PatientBinding.user_id == user_id, PatientBinding.status == BindingStatus.active)
        .order_by((PatientBinding.relation != Relation.self_), PatientBinding.id)
    )
    return [(binding, patient) for binding, patient in result.all()]


async def pending_bindings_touching(
    session: AsyncSession, user_id: int
) -> list[tuple[PatientBinding, Patient, User]]:
    """Pending requests that this user might have to answer: on their own record or one they are bound to.

    Which of them the user may actually answer is the policy's decision, not this query's.
    """
    mine = select(Patient.id).where(Patient.user_id == user_id)
    result = await session.execute(
        select(PatientBinding, Patient, User)
        .join(Patient, Patient.id == PatientBinding.patient_id)
        .join(User, User.id == PatientBinding.requested_by_user_id)
        .where(
            PatientBinding.status == BindingStatus.pending,
            PatientBinding.patient_id.in_(mine.union(_active_of_user(user_id))),
        )
        .order_by(PatientBinding.id)
    )
    return [(binding, patient, user) for binding, patient, user in result.all()]


async def pending_requests_by(session: AsyncSession, user_id: int) -> list[PatientBinding]:
    result = await session.execute(
        select(PatientBinding)
        .where(PatientBinding.requested_by_user_id == user_id, PatientBinding.status == BindingStatus.pending)
        .order_by(PatientBinding.id)
    )
    return list(result.scalars())


async def activate_binding(
    session: AsyncSession, *, binding_id: int, accepted_by: int, now: datetime
) -> bool:
    """pending → active, only if still pending: two answers to one request cannot both win."""
    result = await session.execute(
        update(PatientBinding)
        .where(PatientBinding.id == binding_id, PatientBinding.status == BindingStatus.pending)
        .values(status=BindingStatus.active, accepted_by_user_id=accepted_by, accepted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_binding(
    session: AsyncSession,
    *,
    binding_id: int,
    from_status: BindingStatus,
    ended_by: int,
    reason: EndReason,
    now: datetime,
) -> bool:
    """from_status → ended, only if the binding is still in from_status."""
    result = await session.execute(
        update(PatientBinding)
        .where(PatientBinding.id == binding_id, PatientBinding.status == from_status)
        .values(
            status=BindingStatus.ended,
            ended_by_user_id=ended_by,
            ended_at=now,
            end_reason=reason,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim_patient_account(
    session: AsyncSession, *, patient_id: int, user_id: int, now: datetime
) -> bool:
    """Makes a user the account of an account-less record; fails if someone else claimed it first."""
    result = await session.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.user_id.is_(None))
        .values(user_id=user_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def display_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    result = await session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in result.all()}
