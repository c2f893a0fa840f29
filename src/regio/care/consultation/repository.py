"""Consultation queries. Races (the message counter, a quick question's acceptance, one open call,
one consultation per appointment) are decided here by conditional UPDATEs and unique indexes;
nothing in this module commits. Roster shifts, patients and doctors are read, never written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking.models import Appointment, Shift, Slot
from regio.care.consultation.enums import CallStatus, QuestionStatus, Status
from regio.care.consultation.models import Attachment, Call, Consultation, Message, QuickQuestion
from regio.care.patients.models import Patient
from regio.care.registry.models import Doctor, Hospital, HospitalDepartment
from regio.core.db import is_sqlite

OPEN = [Status.waiting.value, Status.in_progress.value]


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# ---- consultations -----------------------------------------------------------------------------------


async def get(session: AsyncSession, consultation_id: int) -> Consultation | None:
    return await session.get(Consultation, consultation_id, populate_existing=True)


async def by_appointment(session: AsyncSession, appointment_id: int) -> Consultation | None:
    result = await session.execute(select(Consultation).where(Consultation.appointment_id == appointment_id))
    return result.scalar_one_or_none()


async def insert_for_appointment(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Opens the appointment's consultation, or nothing if it has one (the unique index decides)."""
    statement = (
        _insert(session)(Consultation)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["appointment_id"])
        .returning(Consultation.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def insert(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(_insert(session)(Consultation).values(**values).returning(Consultation.id))
    return int(result.scalar_one())


async def move(
    session: AsyncSession, consultation_id: int, *, from_status: str, values: dict[str, Any]
) -> bool:
    """Changes status only if it is still `from_status`: two racing transitions, one wins."""
    result = await session.execute(
        update(Consultation)
        .where(Consultation.id == consultation_id, Consultation.status == from_status)
        .values(**values, version=Consultation.version + 1)
        .returning(Consultation.id)
    )
    return result.first() is not None


async def next_seq(session: AsyncSession, consultation_id: int) -> int | None:
    """The next message number, taken by a conditional UPDATE … RETURNING (a row lock until commit)."""
    result = await session.execute(
        update(Consultation)
        .where(Consultation.id == consultation_id, Consultation.status.in_(OPEN))
        .values(last_seq=Consultation.last_seq + 1)
        .returning(Consultation.last_seq)
        .execution_options(synchronize_session=False)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


async def next_seq_any(session: AsyncSession, consultation_id: int) -> int:
    """The next number for a platform line (status change, call), whatever the status."""
    result = await session.execute(
        update(Consultation)
        .where(Consultation.id == consultation_id)
        .values(last_seq=Consultation.last_seq + 1)
        .returning(Consultation.last_seq)
    )
    return int(result.scalar_one())


async def mark_read(
    session: AsyncSession, consultation_id: int, *, doctor_side: bool, seq: int
) -> int | None:
    """Moves a side's read mark forward only (never back, never past the last message)."""
    column = Consultation.doctor_read_seq if doctor_side else Consultation.patient_read_seq
    result = await session.execute(
        update(Consultation)
        .where(Consultation.id == consultation_id, column < seq, Consultation.last_seq >= seq)
        .values({column.key: seq})
        .returning(column)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


async def doctor_queue(session: AsyncSession, doctor_id: int) -> list[Consultation]:
    result = await session.execute(
        select(Consultation)
        .where(Consultation.doctor_id == doctor_id, Consultation.status.in_(OPEN))
        .order_by(Consultation.scheduled_at, Consultation.id)
        .limit(500)
    )
    return list(result.scalars())


async def recent_lengths_seconds(session: AsyncSession, doctor_id: int, *, limit: int = 50) -> list[float]:
    result = await session.execute(
        select(Consultation.started_at, Consultation.completed_at)
        .where(
            Consultation.doctor_id == doctor_id,
            Consultation.status == Status.completed.value,
            Consultation.started_at.is_not(None),
            Consultation.completed_at.is_not(None),
        )
        .order_by(Consultation.completed_at.desc())
        .limit(limit)
    )
    return [(done - started).total_seconds() for started, done in result.all() if started and done]


async def of_patients(
    session: AsyncSession, patient_ids: Iterable[int], *, limit: int = 200
) -> list[Consultation]:
    ids = list(patient_ids)
    if not ids:
        return []
    result = await session.execute(
        select(Consultation)
        .where(Consultation.patient_id.in_(ids))
        .order_by(Consultation.created_at.desc(), Consultation.id.desc())
        .limit(limit)
    )
    return list(result.scalars())


async def of_doctor(session: AsyncSession, doctor_id: int, *, limit: int = 200) -> list[Consultation]:
    result = await session.execute(
        select(Consultation)
        .where(Consultation.doctor_id == doctor_id)
        .order_by(Consultation.created_at.desc(), Consultation.id.desc())
        .limit(limit)
    )
    return list(result.scalars())


# ---- messages ----------------------------------------------------------------------------------------


async def message_by_client_id(
    session: AsyncSession, consultation_id: int, client_msg_id: str
) -> Message | None:
    result = await session.execute(
        select(Message).where(
            Message.consultation_id == consultation_id, Message.client_msg_id == client_msg_id
        )
    )
    return result.scalar_one_or_none()


async def add_message(session: AsyncSession, values: dict[str, Any]) -> Message:
    message = Message(**values)
    session.add(message)
    await session.flush()
    return message


async def take_seqs(session: AsyncSession, counts: dict[int, int]) -> dict[int, int]:
    """Moves several open consultations' counters on at once; returns id → new last_seq.

    One statement for a whole batch of messages; consultations that are not open are left out.
    On PostgreSQL several rows are locked in id order first, so concurrent batches cannot deadlock.
    """
    if len(counts) > 1 and not is_sqlite(session):
        await session.execute(
            select(Consultation.id)
            .where(Consultation.id.in_(counts))
            .order_by(Consultation.id)
            .with_for_update()
        )
    result = await session.execute(
        update(Consultation)
        .where(Consultation.id.in_(counts), Consultation.status.in_(OPEN))
        .values(last_seq=Consultation.last_seq + case(counts, value=Consultation.id))
        .returning(Consultation.id, Consultation.last_seq)
        .execution_options(synchronize_session=False)
    )
    return {int(i): int(seq) for i, seq in result.all()}


async def insert_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Inserts many messages in one statement; returns how many went in (a resent client id does not)."""
    if not rows:
        return 0
    statement = (
        _insert(session)(Message)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=["consultation_id", "client_msg_id"],
            index_where=Message.client_msg_id.is_not(None),
        )
        .returning(Message.id)
    )
    return len((await session.execute(statement)).all())


async def messages_after(
    session: AsyncSession, consultation_id: int, *, after: int, limit: int = 500
) -> list[Message]:
    result = await session.execute(
        select(Message)
        .where(Message.consultation_id == consultation_id, Message.seq > after)
        .order_by(Message.seq)
        .limit(limit)
    )
    return list(result.scalars())


async def delete_chat(session: AsyncSession, consultation_id: int) -> int:
    result = await session.execute(delete(Message).where(Message.consultation_id == consultation_id))
    await session.execute(delete(Attachment).where(Attachment.consultation_id == consultation_id))
    return int(getattr(result, "rowcount", 0) or 0)


# ---- attachments -------------------------------------------------------------------------------------


async def add_attachment(session: AsyncSession, values: dict[str, Any]) -> Attachment:
    attachment = Attachment(**values)
    session.add(attachment)
    await session.flush()
    return attachment


async def get_attachment(session: AsyncSession, attachment_id: int) -> Attachment | None:
    return await session.get(Attachment, attachment_id)


async def attachments(session: AsyncSession, ids: Iterable[int]) -> dict[int, Attachment]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    result = await session.execute(select(Attachment).where(Attachment.id.in_(wanted)))
    return {a.id: a for a in result.scalars()}


# ---- calls -------------------------------------------------------------------------------------------


async def open_call(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """A new call, or None while another is open (the partial unique index decides)."""
    statement = (
        _insert(session)(Call)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["consultation_id"],
            index_where=Call.status != CallStatus.ended.value,
        )
        .returning(Call.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def current_call(session: AsyncSession, consultation_id: int) -> Call | None:
    result = await session.execute(
        select(Call).where(Call.consultation_id == consultation_id, Call.status != CallStatus.ended.value)
    )
    return result.scalar_one_or_none()


async def connect_call(session: AsyncSession, call_id: int, *, now: datetime) -> bool:
    result = await session.execute(
        update(Call)
        .where(Call.id == call_id, Call.status == CallStatus.ringing.value)
        .values(status=CallStatus.connected.value, connected_at=now)
        .returning(Call.id)
    )
    return result.first() is not None


async def end_call(session: AsyncSession, call_id: int, *, values: dict[str, Any]) -> bool:
    result = await session.execute(
        update(Call)
        .where(Call.id == call_id, Call.status != CallStatus.ended.value)
        .values(status=CallStatus.ended.value, **values)
        .returning(Call.id)
    )
    return result.first() is not None


async def get_call(session: AsyncSession, call_id: int) -> Call | None:
    return await session.get(Call, call_id, populate_existing=True)


async def calls_of(session: AsyncSession, consultation_id: int) -> list[Call]:
    result = await session.execute(
        select(Call).where(Call.consultation_id == consultation_id).order_by(Call.started_at)
    )
    return list(result.scalars())


# ---- quick questions ---------------------------------------------------------------------------------


async def add_question(session: AsyncSession, values: dict[str, Any]) -> QuickQuestion:
    question = QuickQuestion(**values)
    session.add(question)
    await session.flush()
    return question


async def get_question(session: AsyncSession, question_id: int) -> QuickQuestion | None:
    return await session.get(QuickQuestion, question_id, populate_existing=True)


async def take_question(session: AsyncSession, question_id: int, *, doctor_id: int, now: datetime) -> bool:
    """The first doctor to accept takes it: the WHERE is the 'nobody has yet' check."""
    result = await session.execute(
        update(QuickQuestion)
        .where(
            QuickQuestion.id == question_id,
            QuickQuestion.status == QuestionStatus.offered.value,
            QuickQuestion.accepted_doctor_id.is_(None),
        )
        .values(status=QuestionStatus.accepted.value, accepted_doctor_id=doctor_id, accepted_at=now)
        .returning(QuickQuestion.id)
    )
    return result.first() is not None


async def close_question(session: AsyncSession, question_id: int, *, now: datetime) -> bool:
    result = await session.execute(
        update(QuickQuestion)
        .where(QuickQuestion.id == question_id, QuickQuestion.status == QuestionStatus.offered.value)
        .values(status=QuestionStatus.cancelled.value, ended_at=now)
        .returning(QuickQuestion.id)
    )
    return result.first() is not None


async def widen_due(session: AsyncSession, *, created_before: datetime, now: datetime) -> list[Any]:
    result = await session.execute(
        update(QuickQuestion)
        .where(
            QuickQuestion.status == QuestionStatus.offered.value,
            QuickQuestion.widened_at.is_(None),
            QuickQuestion.created_at <= created_before,
        )
        .values(widened_at=now)
        .returning(QuickQuestion.id, QuickQuestion.department_code, QuickQuestion.region_adcode)
    )
    return list(result.all())


async def consultation_of_question(session: AsyncSession, question_id: int) -> int | None:
    result = await session.execute(
        select(Consultation.id).where(Consultation.quick_question_id == question_id)
    )
    return result.scalar_one_or_none()


async def questions_of_patients(session: AsyncSession, patient_ids: Iterable[int]) -> list[QuickQuestion]:
    ids = list(patient_ids)
    if not ids:
        return []
    result = await session.execute(
        select(QuickQuestion)
        .where(QuickQuestion.patient_id.in_(ids))
        .order_by(QuickQuestion.created_at.desc())
        .limit(100)
    )
    return list(result.scalars())


async def offered_to(session: AsyncSession, shifts: Sequence[Any]) -> list[QuickQuestion]:
    """Open questions a doctor on these shifts may take: same hospital and department, or widened
    to the department in every hospital of the region."""
    if not shifts:
        return []
    conditions = []
    for shift in shifts:
        region = shift.city_adcode[:2] + "0000"
        conditions.append(
            and_(
                QuickQuestion.department_code == shift.department_code,
                or_(
                    QuickQuestion.hospital_id == shift.hospital_id,
                    and_(QuickQuestion.widened_at.is_not(None), QuickQuestion.region_adcode == region),
                ),
            )
        )
    result = await session.execute(
        select(QuickQuestion)
        .where(QuickQuestion.status == QuestionStatus.offered.value, or_(*conditions))
        .order_by(QuickQuestion.created_at)
        .limit(100)
    )
    return list(result.scalars())


# ---- facts from earlier subdomains (read only) -------------------------------------------------------


async def shifts_on_duty(session: AsyncSession, doctor_id: int, *, now: datetime) -> list[Shift]:
    result = await session.execute(
        select(Shift).where(
            Shift.doctor_id == doctor_id,
            Shift.status == "scheduled",
            Shift.start_at <= now,
            Shift.end_at > now,
        )
    )
    return list(result.scalars())


async def doctors_on_duty(
    session: AsyncSession, *, department_code: str, now: datetime, hospital_id: int | None, region_adcode: str
) -> list[int]:
    statement = select(Shift.doctor_id).where(
        Shift.department_code == department_code,
        Shift.status == "scheduled",
        Shift.start_at <= now,
        Shift.end_at > now,
    )
    if hospital_id is not None:
        statement = statement.where(Shift.hospital_id == hospital_id)
    else:
        statement = statement.where(func.substr(Shift.city_adcode, 1, 2) == region_adcode[:2])
    return sorted(set((await session.execute(statement.distinct())).scalars()))


async def appointment_with_slot(
    session: AsyncSession, appointment_id: int
) -> tuple[Appointment, Slot] | None:
    result = await session.execute(
        select(Appointment, Slot)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Appointment.id == appointment_id)
    )
    row = result.first()
    return None if row is None else (row[0], row[1])


async def hospital(session: AsyncSession, hospital_id: int) -> Hospital | None:
    return await session.get(Hospital, hospital_id)


async def hospital_offers(session: AsyncSession, hospital_id: int, department_code: str) -> bool:
    result = await session.execute(
        select(HospitalDepartment.id).where(
            HospitalDepartment.hospital_id == hospital_id,
            HospitalDepartment.department_code == department_code,
        )
    )
    return result.first() is not None


async def names(
    session: AsyncSession, *, patient_ids: Iterable[int], doctor_ids: Iterable[int]
) -> tuple[dict[int, str], dict[int, str]]:
    p_ids, d_ids = list(set(patient_ids)), list(set(doctor_ids))
    patients: dict[int, str] = {}
    doctors: dict[int, str] = {}
    if p_ids:
        rows = await session.execute(select(Patient.id, Patient.name).where(Patient.id.in_(p_ids)))
        patients = {int(i): str(n) for i, n in rows.all()}
    if d_ids:
        rows = await session.execute(select(Doctor.id, Doctor.real_name).where(Doctor.id.in_(d_ids)))
        doctors = {int(i): str(n) for i, n in rows.all()}
    return patients, doctors


async def doctor_user_ids(session: AsyncSession, doctor_ids: Iterable[int]) -> list[int]:
    ids = list(set(doctor_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(Doctor.user_id).where(Doctor.id.in_(ids), Doctor.user_id.is_not(None))
    )
    return [int(u) for u in rows.scalars() if u is not None]
