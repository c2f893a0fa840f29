"""Queries over patients and bindings; flushes but never commits (the service owns the transaction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, delete, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients.idnumber import Sex
from regio.care.patients.models import (
    BindingRequest,
    BindingStatus,
    ClaimPurpose,
    EndReason,
    LookupCounter,
    Patient,
    PatientBinding,
    PatientClaim,
    Relation,
)
from regio.core.identity.models import User

# Namespaces pg_advisory_xact_lock(int, int) so this lock never meets another module's.
_NUMBER_LOCK_SPACE = 0x5043_4C4D  # "PCLM"


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: AsyncSession, model: Any) -> Any:
    """The dialect's own INSERT, for ON CONFLICT; SQLite and PostgreSQL spell it alike."""
    return postgresql.insert(model) if _is_postgresql(session) else sqlite.insert(model)


def _changed(result: Any) -> bool:
    return bool(getattr(result, "rowcount", 0))


async def lock_number(session: AsyncSession, id_number_hash: str) -> None:
    """Serialises the transactions that register or request one identity number, until they end.

    PostgreSQL takes a transaction-scoped advisory lock on the number. SQLite has one writer:
    callers make a write their first statement, which holds the write lock until commit.
    """
    if _is_postgresql(session):
        key = int.from_bytes(bytes.fromhex(id_number_hash[:8]), "big", signed=True)
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _NUMBER_LOCK_SPACE, "key": key}
        )


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
    """One patient, read afresh (a conditional UPDATE may have changed it in this transaction)."""
    return await session.get(Patient, patient_id, populate_existing=True)


async def patient_by_id_number_hash(session: AsyncSession, id_number_hash: str) -> Patient | None:
    """The one patient with this identity number's look-up hash, if registered."""
    result = await session.execute(select(Patient).where(Patient.id_number_hash == id_number_hash))
    return result.scalar_one_or_none()


async def binding_by_id(session: AsyncSession, binding_id: int) -> PatientBinding | None:
    """One binding, read afresh."""
    return await session.get(PatientBinding, binding_id, populate_existing=True)


async def open_bindings_of_patient(session: AsyncSession, patient_id: int) -> list[PatientBinding]:
    """Every binding of the patient that has not ended, oldest first."""
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
    """The patients a user has an active binding to."""
    result = await session.execute(_active_of_user(user_id))
    return frozenset(result.scalars())


async def active_bindings_of_user(
    session: AsyncSession, user_id: int
) -> list[tuple[PatientBinding, Patient]]:
    """The patients a user may act for with their bindings: self first, then family members in the order they were bound."""
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


async def activate_binding(
    session: AsyncSession, *, binding_id: int, accepted_by: int | None, now: datetime
) -> bool:
    """pending → active, only if still pending: two answers to one request cannot both win.

    accepted_by is None when the person consented by handing over a code rather than in an account.
    """
    result = await session.execute(
        update(PatientBinding)
        .where(PatientBinding.id == binding_id, PatientBinding.status == BindingStatus.pending)
        .values(status=BindingStatus.active, accepted_by_user_id=accepted_by, accepted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


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
    return _changed(result)


async def set_patient_account(
    session: AsyncSession, *, patient_id: int, expected_user_id: int | None, user_id: int, now: datetime
) -> bool:
    """Makes `user_id` the account of a record, only if its account is still `expected_user_id`."""
    current = Patient.user_id.is_(None) if expected_user_id is None else Patient.user_id == expected_user_id
    result = await session.execute(
        update(Patient)
        .where(Patient.id == patient_id, current)
        .values(user_id=user_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


async def open_binding_of(session: AsyncSession, *, user_id: int, patient_id: int) -> PatientBinding | None:
    """The user's binding to the patient that has not ended, if any (there is at most one)."""
    result = await session.execute(
        select(PatientBinding).where(
            PatientBinding.user_id == user_id,
            PatientBinding.patient_id == patient_id,
            PatientBinding.status != BindingStatus.ended,
        )
    )
    return result.scalars().first()


async def has_self_binding(session: AsyncSession, user_id: int) -> bool:
    """Whether the account already is someone (an open "self" binding)."""
    result = await session.execute(
        select(PatientBinding.id).where(
            PatientBinding.user_id == user_id,
            PatientBinding.relation == Relation.self_,
            PatientBinding.status != BindingStatus.ended,
        )
    )
    return result.first() is not None


async def end_bindings_accepted_by(
    session: AsyncSession, *, patient_id: int, accepted_by: int, ended_by: int, now: datetime
) -> list[int]:
    """Ends the active bindings to a patient that `accepted_by` consented to; returns their ids."""
    result = await session.execute(
        update(PatientBinding)
        .where(
            PatientBinding.patient_id == patient_id,
            PatientBinding.accepted_by_user_id == accepted_by,
            PatientBinding.user_id != accepted_by,
            PatientBinding.status == BindingStatus.active,
        )
        .values(
            status=BindingStatus.ended,
            ended_by_user_id=ended_by,
            ended_at=now,
            end_reason=EndReason.unbound,
            updated_at=now,
        )
        .returning(PatientBinding.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(int(binding_id) for binding_id in result.scalars())


# ----------------------------------------------------------------- binding requests


async def add_binding_request(
    session: AsyncSession,
    *,
    user_id: int,
    id_number_hash: str,
    relation: Relation,
    now: datetime,
    binding_id: int | None = None,
) -> BindingRequest:
    """Inserts now, so a second waiting request of one user for one number fails on the partial index."""
    request = BindingRequest(
        user_id=user_id,
        id_number_hash=id_number_hash,
        relation=relation,
        requested_at=now,
        binding_id=binding_id,
    )
    session.add(request)
    await session.flush()
    return request


async def link_request(session: AsyncSession, *, request_id: int, binding_id: int) -> None:
    """Attaches the pending binding a request turned into."""
    await session.execute(
        update(BindingRequest)
        .where(BindingRequest.id == request_id)
        .values(binding_id=binding_id)
        .execution_options(synchronize_session=False)
    )


async def waiting_requests_for(session: AsyncSession, id_number_hash: str) -> list[BindingRequest]:
    """Requests made for a number before anyone registered it, oldest first."""
    result = await session.execute(
        select(BindingRequest)
        .where(
            BindingRequest.id_number_hash == id_number_hash,
            BindingRequest.binding_id.is_(None),
            BindingRequest.withdrawn_at.is_(None),
        )
        .order_by(BindingRequest.id)
    )
    return list(result.scalars())


async def outgoing_requests(session: AsyncSession, user_id: int) -> list[BindingRequest]:
    """A user's requests still waiting: for a number not yet registered, or with a pending binding."""
    result = await session.execute(
        select(BindingRequest)
        .outerjoin(PatientBinding, PatientBinding.id == BindingRequest.binding_id)
        .where(
            BindingRequest.user_id == user_id,
            BindingRequest.withdrawn_at.is_(None),
            or_(BindingRequest.binding_id.is_(None), PatientBinding.status == BindingStatus.pending),
        )
        .order_by(BindingRequest.id)
    )
    return list(result.scalars())


async def request_by_id(session: AsyncSession, request_id: int) -> BindingRequest | None:
    """One binding request, read afresh."""
    return await session.get(BindingRequest, request_id, populate_existing=True)


async def withdraw_request(session: AsyncSession, *, request_id: int, now: datetime) -> bool:
    """Marks a request withdrawn, only once."""
    result = await session.execute(
        update(BindingRequest)
        .where(BindingRequest.id == request_id, BindingRequest.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


# ----------------------------------------------------------------- one-time codes


async def add_claim(
    session: AsyncSession,
    *,
    user_id: int,
    purpose: ClaimPurpose,
    patient_id: int | None,
    binding_id: int | None,
    expected_user_id: int | None,
    code_nonce: str,
    code_hash: str,
    expires_at: datetime,
    now: datetime,
) -> PatientClaim:
    """Stores a code's keyed hash (never the code) with its expiry."""
    claim = PatientClaim(
        user_id=user_id,
        purpose=purpose,
        patient_id=patient_id,
        binding_id=binding_id,
        expected_user_id=expected_user_id,
        code_nonce=code_nonce,
        code_hash=code_hash,
        attempts=0,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(claim)
    await session.flush()
    return claim


async def claim_by_id(session: AsyncSession, claim_id: int) -> PatientClaim | None:
    """One claim, read afresh."""
    return await session.get(PatientClaim, claim_id, populate_existing=True)


async def spend_attempt(
    session: AsyncSession, *, claim_id: int, max_attempts: int, now: datetime, use: bool
) -> bool:
    """Counts one try of a code, only while it is unused, unexpired and has tries left; `use` also spends it.

    One UPDATE for both: on PostgreSQL a second update of a row this transaction already updated
    re-checks its foreign keys, locking the patient row, and two confirmations would deadlock.
    """
    values: dict[str, Any] = {"attempts": PatientClaim.attempts + 1}
    if use:
        values["used_at"] = now
    result = await session.execute(
        update(PatientClaim)
        .where(
            PatientClaim.id == claim_id,
            PatientClaim.used_at.is_(None),
            PatientClaim.expires_at > now,
            PatientClaim.attempts < max_attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


# ----------------------------------------------------------------- look-up allowance


async def take_lookup(session: AsyncSession, *, user_id: int, window_start: datetime, limit: int) -> bool:
    """Counts one look-up in the user's current window, unless the window is full; decided in one upsert."""
    insert = _insert(session, LookupCounter)
    statement = (
        insert.values(user_id=user_id, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=[LookupCounter.user_id, LookupCounter.window_start],
            set_={"count": LookupCounter.count + 1},
            where=LookupCounter.count < limit,
        )
        .returning(LookupCounter.count)
    )
    counted = (await session.execute(statement)).scalar_one_or_none() is not None
    # Old windows only ever mattered for their own hour.
    await session.execute(
        delete(LookupCounter).where(
            and_(LookupCounter.user_id == user_id, LookupCounter.window_start < window_start)
        )
    )
    return counted


async def display_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Users' display names by id."""
    if not user_ids:
        return {}
    result = await session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in result.all()}
