"""Consultation's only writer: the life cycle, quick questions, chat messages, attachments and calls.

Every write is one transaction with its audit entries and outbox messages; live frames are
published on the consultation's channel only after commit. Races are the database's: a message
number is taken by a conditional UPDATE of the consultation's counter (a row lock until commit),
a resent message is stored once by the unique (consultation, client id) index, a quick question
goes to the first doctor whose conditional UPDATE matches, one consultation per appointment and
one open call per consultation are unique indexes. On SQLite a write starts with BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from regio.care.booking import errors as booking_errors
from regio.care.booking.enums import AppointmentStatus
from regio.care.consultation import errors, policies, repository
from regio.care.consultation.enums import (
    CallStatus,
    MessageKind,
    Mode,
    QuestionStatus,
    Side,
    Source,
    Status,
    Urgency,
)
from regio.care.consultation.models import Attachment, Call, Consultation, Message, QuickQuestion
from regio.care.consultation.policies import Action, Facts
from regio.care.consultation.schemas import (
    AttachmentOut,
    CallOut,
    ConsultationOut,
    IceOut,
    IceServer,
    MessageOut,
    QueueOut,
    QuickQuestionIn,
    QuickQuestionOut,
)
from regio.care.patients import service as patients_service
from regio.care.registry import service as registry_service
from regio.care.registry.policies import is_listed
from regio.care.triage import service as triage_service
from regio.config import Settings
from regio.core import audit, outbox
from regio.core.access import SYSTEM as CORE_SYSTEM
from regio.core.access import Principal, Role
from regio.core.blobs import BlobNotFound, BlobStore, BlobStoreError
from regio.core.db import Database, transaction, utcnow, write_transaction
from regio.core.errors import Forbidden
from regio.core.events import EventBus

log = logging.getLogger("regio.consultation")

SHANGHAI = ZoneInfo("Asia/Shanghai")
SYSTEM = CORE_SYSTEM

TOPIC_OPENED = "care.consultation.opened"
TOPIC_QUESTION_OFFERED = "care.consultation.quick_question_offered"
TOPIC_QUESTION_ACCEPTED = "care.consultation.quick_question_accepted"
TOPIC_QUESTION_WIDENED = "care.consultation.quick_question_widened"
TOPIC_ENDED = "care.consultation.ended"
TOPICS = (TOPIC_OPENED, TOPIC_QUESTION_OFFERED, TOPIC_QUESTION_ACCEPTED, TOPIC_QUESTION_WIDENED, TOPIC_ENDED)

STATUS_ZH = {
    Status.waiting: "候诊中",
    Status.in_progress: "问诊中",
    Status.completed: "已完成",
    Status.cancelled: "已取消",
    Status.no_show: "未到诊",
}


def channel(consultation_id: int) -> str:
    """The live channel of one consultation: messages, read receipts, status, call signalling."""
    return f"care.consultation.{consultation_id}"


# ---- transactions ------------------------------------------------------------------------------------


async def _publish(events: EventBus | None, consultation_id: int, frame: Mapping[str, Any]) -> None:
    if events is None:
        return
    try:
        await events.publish(channel(consultation_id), frame)
    except Exception:
        # The live path is a shortcut: the row is stored, clients resume from their last sequence.
        log.warning("could not publish on %s", channel(consultation_id), exc_info=True)


# ---- views -------------------------------------------------------------------------------------------


def _local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _view(
    c: Consultation, *, side: Side | None = None, names: tuple[dict[int, str], dict[int, str]] | None = None
) -> ConsultationOut:
    patients, doctors = names or ({}, {})
    return ConsultationOut(
        id=c.id,
        patient_id=c.patient_id,
        patient_name=patients.get(c.patient_id, ""),
        requester_user_id=c.requester_user_id,
        doctor_id=c.doctor_id,
        doctor_name=doctors.get(c.doctor_id, ""),
        hospital_id=c.hospital_id,
        department_code=c.department_code,
        mode=c.mode,
        source=c.source,
        appointment_id=c.appointment_id,
        quick_question_id=c.quick_question_id,
        status=c.status,
        urgency=c.urgency,
        complaint=c.complaint,
        scheduled_at=c.scheduled_at,
        scheduled_local=_local(c.scheduled_at),
        created_at=c.created_at,
        started_at=c.started_at,
        completed_at=c.completed_at,
        ended_at=c.ended_at,
        end_reason=c.end_reason,
        last_seq=c.last_seq,
        patient_read_seq=c.patient_read_seq,
        doctor_read_seq=c.doctor_read_seq,
        my_side=side.value if side else None,
    )


def _attachment_view(a: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=a.id,
        consultation_id=a.consultation_id,
        sha256=a.sha256,
        content_type=a.content_type,
        size_bytes=a.size_bytes,
        file_name=a.file_name,
        url=f"/api/care/consultations/{a.consultation_id}/attachments/{a.id}",
    )


def _message_view(m: Message, attachment: Attachment | None = None) -> MessageOut:
    return MessageOut(
        consultation_id=m.consultation_id,
        seq=m.seq,
        sender_side=m.sender_side,
        sender_user_id=m.sender_user_id,
        kind=m.kind,
        body=m.body,
        client_msg_id=m.client_msg_id,
        attachment=_attachment_view(attachment) if attachment else None,
        created_at=m.created_at,
    )


def _call_view(call: Call) -> CallOut:
    return CallOut(
        id=call.id,
        consultation_id=call.consultation_id,
        mode=call.mode,
        status=call.status,
        started_by_user_id=call.started_by_user_id,
        started_at=call.started_at,
        connected_at=call.connected_at,
        ended_at=call.ended_at,
        duration_seconds=call.duration_seconds,
    )


def _question_view(q: QuickQuestion, consultation_id: int | None = None) -> QuickQuestionOut:
    return QuickQuestionOut(
        id=q.id,
        patient_id=q.patient_id,
        hospital_id=q.hospital_id,
        department_code=q.department_code,
        mode=q.mode,
        urgency=q.urgency,
        text=q.text,
        status=q.status,
        created_at=q.created_at,
        widened_at=q.widened_at,
        accepted_doctor_id=q.accepted_doctor_id,
        consultation_id=consultation_id,
    )


# ---- who is asking -----------------------------------------------------------------------------------


async def own_doctor_id(session: AsyncSession, principal: Principal) -> int | None:
    """The registry doctor the principal's account is linked to, if it holds the doctor role."""
    if principal.user_id is None or not principal.has_role(Role.doctor):
        return None
    doctor = await registry_service.doctor_for_user(session=session, user_id=principal.user_id)
    return doctor.id if doctor else None


async def _actable(session: AsyncSession, principal: Principal) -> frozenset[int]:
    if not principal.has_role(Role.patient):
        return frozenset()
    return await patients_service.actable_patient_ids(session=session, principal=principal)


async def _facts(session: AsyncSession, principal: Principal, c: Consultation) -> Facts:
    return Facts(
        patient_id=c.patient_id,
        doctor_id=c.doctor_id,
        status=Status(c.status),
        actable_patient_ids=await _actable(session, principal),
        own_doctor_id=await own_doctor_id(session, principal),
    )


async def _load(
    session: AsyncSession, principal: Principal, consultation_id: int, action: Action
) -> tuple[Consultation, Side]:
    """The consultation and the principal's side, if the policy allows the action; else refused.

    Someone on neither side learns nothing, not even whether the consultation exists.
    """
    c = await repository.get(session, consultation_id)
    if c is None:
        raise errors.ConsultationNotFound(consultation_id=consultation_id)
    facts = await _facts(session, principal, c)
    side = policies.side_of(principal, facts)
    if side is None:
        raise errors.ConsultationNotFound(consultation_id=consultation_id)
    if not policies.may(principal, action, facts):
        raise Forbidden(action=action.value, consultation_id=consultation_id)
    return c, side


@dataclass(frozen=True, slots=True)
class Joined:
    """A principal admitted to one consultation's room (checked once when the socket opens)."""

    consultation_id: int
    side: Side
    user_id: int | None
    principal: Principal
    consultation: ConsultationOut


# ---- opening a consultation --------------------------------------------------------------------------


async def open_from_appointment(
    *, session: AsyncSession, principal: Principal, appointment_id: int, urgency: Urgency = Urgency.routine
) -> ConsultationOut:
    """Opens the consultation of a confirmed booking (patient side or its doctor); idempotent."""
    found = await repository.appointment_with_slot(session, appointment_id)
    if found is None:
        raise booking_errors.AppointmentNotFound(appointment_id=appointment_id)
    appointment, slot = found
    actable = await _actable(session, principal)
    own = await own_doctor_id(session, principal)
    patient_side = principal.is_person and appointment.patient_id in actable
    doctor_side = principal.is_person and own is not None and own == appointment.doctor_id
    if not (patient_side or doctor_side):
        raise booking_errors.AppointmentNotFound(appointment_id=appointment_id)
    existing = await repository.by_appointment(session, appointment_id)
    if existing is not None:
        return _view(existing, side=Side.doctor if doctor_side else Side.patient)
    if appointment.status != AppointmentStatus.confirmed.value:
        raise errors.AppointmentNotConfirmed(appointment_id=appointment_id, status=appointment.status)
    await registry_service.require_may_consult_online(session=session, doctor_id=appointment.doctor_id)
    requester = appointment.booked_by_user_id or principal.user_id
    assert requester is not None
    now = utcnow()
    async with write_transaction(session):
        new_id = await repository.insert_for_appointment(
            session,
            {
                "patient_id": appointment.patient_id,
                "requester_user_id": requester,
                "doctor_id": appointment.doctor_id,
                "hospital_id": appointment.hospital_id,
                "department_code": slot.department_code,
                "mode": appointment.mode,
                "source": Source.appointment.value,
                "appointment_id": appointment_id,
                "status": Status.waiting.value,
                "urgency": urgency.value,
                "scheduled_at": slot.start_at,
                "complaint": "",
                "created_at": now,
                "last_seq": 0,
                "patient_read_seq": 0,
                "doctor_read_seq": 0,
                "version": 1,
            },
        )
        if new_id is not None:
            await audit.record(
                session,
                principal,
                "consultation.open",
                object_type="consultation",
                object_id=new_id,
                details={"appointment_id": appointment_id, "patient_id": appointment.patient_id},
            )
            user_ids = await repository.doctor_user_ids(session, [appointment.doctor_id])
            outbox.enqueue(
                session,
                TOPIC_OPENED,
                {"consultation_id": new_id, "user_ids": user_ids, "scheduled_at": slot.start_at},
            )
    # A racing opener lost to the unique index: both answer the one consultation.
    c = await repository.by_appointment(session, appointment_id)
    assert c is not None
    return _view(c, side=Side.doctor if doctor_side else Side.patient)


# ---- reading -----------------------------------------------------------------------------------------


async def _average_minutes(session: AsyncSession, settings: Settings, doctor_id: int) -> float:
    lengths = await repository.recent_lengths_seconds(session, doctor_id)
    if not lengths:
        return float(settings.consultation_default_minutes)
    return max(1.0, sum(lengths) / len(lengths) / 60.0)


def _positions(queue: list[Consultation], average: float) -> dict[int, tuple[int, int]]:
    """consultation id → (place among the waiting, expected wait in minutes) for each waiting one."""
    items = [
        policies.QueueItem(
            consultation_id=c.id,
            scheduled_at=c.scheduled_at,
            urgency=Urgency(c.urgency),
            created_at=c.created_at,
            status=Status(c.status),
        )
        for c in queue
    ]
    answer: dict[int, tuple[int, int]] = {}
    ahead = 0  # everyone the doctor sees first, the one in progress included
    waiting_ahead = 0
    for item in policies.ordered_queue(items):
        if item.status is Status.waiting:
            answer[item.consultation_id] = (waiting_ahead + 1, policies.expected_wait_minutes(ahead, average))
            waiting_ahead += 1
        ahead += 1
    return answer


async def get_consultation(
    *, session: AsyncSession, settings: Settings, principal: Principal, consultation_id: int
) -> ConsultationOut:
    """One consultation for one of its two sides, with the queue position while waiting (audited)."""
    c, side = await _load(session, principal, consultation_id, Action.read)
    view = _view(
        c,
        side=side,
        names=await repository.names(session, patient_ids=[c.patient_id], doctor_ids=[c.doctor_id]),
    )
    if c.status == Status.waiting.value:
        queue = await repository.doctor_queue(session, c.doctor_id)
        average = await _average_minutes(session, settings, c.doctor_id)
        position = _positions(queue, average).get(c.id)
        if position is not None:
            view.queue_position, view.expected_wait_minutes = position
    async with transaction(session):
        await audit.record(
            session,
            principal,
            "consultation.read",
            object_type="consultation",
            object_id=c.id,
            details={"patient_id": c.patient_id},
        )
    return view


async def doctor_queue(*, session: AsyncSession, settings: Settings, principal: Principal) -> QueueOut:
    """The doctor's workbench: in progress first, then waiting by slot time and urgency."""
    doctor_id = await own_doctor_id(session, principal)
    if doctor_id is None or not principal.is_person:
        raise errors.NotADoctor()
    queue = await repository.doctor_queue(session, doctor_id)
    average = await _average_minutes(session, settings, doctor_id)
    positions = _positions(queue, average)
    names = await repository.names(session, patient_ids=[c.patient_id for c in queue], doctor_ids=[doctor_id])
    by_id = {c.id: c for c in queue}
    ordered = policies.ordered_queue(
        [
            policies.QueueItem(c.id, c.scheduled_at, Urgency(c.urgency), c.created_at, Status(c.status))
            for c in queue
        ]
    )
    items = []
    for item in ordered:
        view = _view(by_id[item.consultation_id], side=Side.doctor, names=names)
        if item.consultation_id in positions:
            view.queue_position, view.expected_wait_minutes = positions[item.consultation_id]
        items.append(view)
    async with transaction(session):
        await audit.record(
            session,
            principal,
            "consultation.queue.read",
            object_type="doctor",
            object_id=doctor_id,
            details={"patient_ids": sorted({c.patient_id for c in queue})},
        )
    return QueueOut(doctor_id=doctor_id, average_minutes=round(average, 1), items=items)


async def history(*, session: AsyncSession, principal: Principal) -> list[ConsultationOut]:
    """Consultations of every patient the principal may act for, or the doctor's own, newest first."""
    doctor_id = await own_doctor_id(session, principal)
    if doctor_id is not None:
        rows = await repository.of_doctor(session, doctor_id)
        side = Side.doctor
    elif principal.has_role(Role.patient) and principal.is_person:
        rows = await repository.of_patients(session, await _actable(session, principal))
        side = Side.patient
    else:
        raise Forbidden(action="consultation_history")
    names = await repository.names(
        session, patient_ids=[c.patient_id for c in rows], doctor_ids=[c.doctor_id for c in rows]
    )
    async with transaction(session):
        await audit.record(
            session,
            principal,
            "consultation.history.read",
            object_type="consultation",
            object_id=None,
            details={"consultation_ids": [c.id for c in rows]},
        )
    return [_view(c, side=side, names=names) for c in rows]


# ---- life cycle --------------------------------------------------------------------------------------

_ACTION_FOR = {
    Status.in_progress: Action.start,
    Status.completed: Action.complete,
    Status.cancelled: Action.cancel,
    Status.no_show: Action.no_show,
}

_STATUS_TEXT = {
    Status.in_progress: "医生已接诊，问诊开始。",
    Status.completed: "本次问诊已结束。",
    Status.cancelled: "本次问诊已取消。",
    Status.no_show: "患者未到诊。",
}


async def move(
    *,
    session: AsyncSession,
    principal: Principal,
    consultation_id: int,
    target: Status,
    reason: str | None = None,
    events: EventBus | None = None,
) -> ConsultationOut:
    """waiting → in progress → completed, or waiting → cancelled / no-show; anything else refused."""
    action = _ACTION_FOR.get(target)
    if action is None:
        raise errors.IllegalTransition(current="?", requested=target.value)
    c, side = await _load(session, principal, consultation_id, action)
    current = Status(c.status)
    if not policies.may_move(current, target):
        raise errors.IllegalTransition(current=current.value, requested=target.value)
    if target is Status.in_progress:
        await registry_service.require_may_consult_online(session=session, doctor_id=c.doctor_id)
    now = utcnow()
    values: dict[str, Any] = {"status": target.value}
    if target is Status.in_progress:
        values["started_at"] = now
    elif target is Status.completed:
        values["completed_at"] = now
    else:
        values["ended_at"] = now
        values["end_reason"] = (reason or side.value)[:64]
    frames: list[dict[str, Any]] = []
    async with write_transaction(session):
        if not await repository.move(session, consultation_id, from_status=current.value, values=values):
            fresh = await repository.get(session, consultation_id)
            raise errors.IllegalTransition(current=fresh.status if fresh else "?", requested=target.value)
        if target is Status.completed:
            call = await repository.current_call(session, consultation_id)
            if call is not None:
                frames.append(await _end_call_in_tx(session, principal, call, now))
        message = await _store_system(session, consultation_id, _STATUS_TEXT[target], now=now)
        await audit.record(
            session,
            principal,
            f"consultation.{target.value}",
            object_type="consultation",
            object_id=consultation_id,
            details={"from": current.value, "patient_id": c.patient_id},
        )
        if target in (Status.completed, Status.cancelled, Status.no_show):
            outbox.enqueue(
                session,
                TOPIC_ENDED,
                {
                    "consultation_id": consultation_id,
                    "status": target.value,
                    "user_ids": [c.requester_user_id],
                },
            )
    fresh = await repository.get(session, consultation_id)
    assert fresh is not None
    for frame in frames:
        await _publish(events, consultation_id, frame)
    if message is not None:
        await _publish(events, consultation_id, _message_view(message).frame())
    await _publish(events, consultation_id, {"type": "status", "status": fresh.status})
    return _view(fresh, side=side)


async def _store_system(
    session: AsyncSession, consultation_id: int, body: str, *, now: datetime
) -> Message | None:
    """A platform line in the chat (status, calls) with its own sequence number, in the caller's transaction."""
    seq = await _raw_next_seq(session, consultation_id)
    return await repository.add_message(
        session,
        {
            "consultation_id": consultation_id,
            "seq": seq,
            "sender_user_id": None,
            "sender_side": Side.system.value,
            "kind": MessageKind.status.value,
            "body": body,
            "created_at": now,
        },
    )


async def _raw_next_seq(session: AsyncSession, consultation_id: int) -> int:
    # The counter moves whatever the status here: status lines are written as the status changes.
    return await repository.next_seq_any(session, consultation_id)


# ---- quick questions ---------------------------------------------------------------------------------


async def _triage_allows(session: AsyncSession, principal: Principal, data: QuickQuestionIn) -> None:
    """A triage assessment that found danger signs sends the person offline (409 triage_go_offline)."""
    if data.triage_assessment_id is None:
        return
    await triage_service.require_online_allowed(
        session, principal=principal, assessment_id=data.triage_assessment_id
    )


async def ask_quick_question(
    *, session: AsyncSession, principal: Principal, data: QuickQuestionIn
) -> QuickQuestionOut:
    """极速提问: offered to the doctors on duty now in that department of that hospital."""
    if not (principal.is_person and principal.has_role(Role.patient)):
        raise Forbidden(action="quick_question")
    await patients_service.require_may_act_for(
        session=session, principal=principal, patient_id=data.patient_id
    )
    hospital = await repository.hospital(session, data.hospital_id)
    today = registry_service.today()
    if hospital is None or not is_listed(
        status=hospital.status,
        licence_valid_from=hospital.licence_valid_from,
        licence_valid_to=hospital.licence_valid_to,
        today=today,
    ):
        raise errors.HospitalNotListed(hospital_id=data.hospital_id)
    if not await repository.hospital_offers(session, data.hospital_id, data.department_code):
        raise errors.DepartmentNotOffered(hospital_id=data.hospital_id, department_code=data.department_code)
    await _triage_allows(session, principal, data)
    now = utcnow()
    on_duty = await repository.doctors_on_duty(
        session,
        department_code=data.department_code,
        now=now,
        hospital_id=data.hospital_id,
        region_adcode=hospital.region_adcode,
    )
    assert principal.user_id is not None
    async with write_transaction(session):
        question = await repository.add_question(
            session,
            {
                "patient_id": data.patient_id,
                "requester_user_id": principal.user_id,
                "hospital_id": data.hospital_id,
                "region_adcode": hospital.region_adcode,
                "department_code": data.department_code,
                "mode": data.mode.value,
                "urgency": data.urgency.value,
                "text": data.text,
                "triage_assessment_id": data.triage_assessment_id,
                "status": QuestionStatus.offered.value,
                "created_at": now,
            },
        )
        await audit.record(
            session,
            principal,
            "quick_question.ask",
            object_type="quick_question",
            object_id=question.id,
            details={"patient_id": data.patient_id, "department_code": data.department_code},
        )
        outbox.enqueue(
            session,
            TOPIC_QUESTION_OFFERED,
            {
                "quick_question_id": question.id,
                "user_ids": await repository.doctor_user_ids(session, on_duty),
            },
        )
    return _question_view(question)


async def offered_questions(*, session: AsyncSession, principal: Principal) -> list[QuickQuestionOut]:
    """The open questions this doctor, on duty now, may accept."""
    doctor_id = await own_doctor_id(session, principal)
    if doctor_id is None or not principal.is_person:
        raise errors.NotADoctor()
    shifts = await repository.shifts_on_duty(session, doctor_id, now=utcnow())
    questions = await repository.offered_to(session, shifts)
    if questions:
        async with transaction(session):
            await audit.record(
                session,
                principal,
                "quick_question.list",
                object_type="quick_question",
                object_id=None,
                details={"quick_question_ids": [q.id for q in questions]},
            )
    return [_question_view(q) for q in questions]


async def my_questions(*, session: AsyncSession, principal: Principal) -> list[QuickQuestionOut]:
    """The quick questions of the patients the principal may act for (a read of health data, audited)."""
    questions = await repository.questions_of_patients(session, await _actable(session, principal))
    answer = []
    for q in questions:
        answer.append(_question_view(q, await repository.consultation_of_question(session, q.id)))
    if questions:
        async with transaction(session):
            await audit.record(
                session,
                principal,
                "quick_question.list_own",
                object_type="quick_question",
                object_id=None,
                details={
                    "quick_question_ids": [q.id for q in questions],
                    "patient_ids": sorted({q.patient_id for q in questions}),
                },
            )
    return answer


def _may_take(question: QuickQuestion, shifts: list[Any]) -> bool:
    for shift in shifts:
        if shift.department_code != question.department_code:
            continue
        if shift.hospital_id == question.hospital_id:
            return True
        if question.widened_at is not None and shift.city_adcode[:2] + "0000" == question.region_adcode:
            return True
    return False


async def accept_question(
    *, session: AsyncSession, principal: Principal, question_id: int, now: datetime | None = None
) -> ConsultationOut:
    """The first on-duty doctor to accept takes the question, exactly once; it becomes a consultation."""
    now = now or utcnow()
    doctor_id = await own_doctor_id(session, principal)
    if doctor_id is None or not principal.is_person:
        raise errors.NotADoctor()
    question = await repository.get_question(session, question_id)
    if question is None:
        raise errors.QuestionNotFound(quick_question_id=question_id)
    if question.status == QuestionStatus.accepted.value:
        raise errors.QuestionTaken(quick_question_id=question_id)
    if question.status != QuestionStatus.offered.value:
        raise errors.QuestionClosed(quick_question_id=question_id)
    shifts = [s for s in await repository.shifts_on_duty(session, doctor_id, now=now)]
    if not _may_take(question, shifts):
        raise errors.NotOnDuty(quick_question_id=question_id)
    await registry_service.require_may_consult_online(session=session, doctor_id=doctor_id)
    shift = next(
        s
        for s in shifts
        if s.department_code == question.department_code
        and (s.hospital_id == question.hospital_id or question.widened_at is not None)
    )
    async with write_transaction(session):
        if not await repository.take_question(session, question_id, doctor_id=doctor_id, now=now):
            raise errors.QuestionTaken(quick_question_id=question_id)
        consultation_id = await repository.insert(
            session,
            {
                "patient_id": question.patient_id,
                "requester_user_id": question.requester_user_id,
                "doctor_id": doctor_id,
                "hospital_id": shift.hospital_id,
                "department_code": question.department_code,
                "mode": question.mode,
                "source": Source.quick_question.value,
                "quick_question_id": question_id,
                "status": Status.in_progress.value,
                "urgency": question.urgency,
                "scheduled_at": now,
                "complaint": question.text,
                "created_at": now,
                "started_at": now,
                "last_seq": 1,
                "patient_read_seq": 1,
                "doctor_read_seq": 0,
                "version": 1,
            },
        )
        # The question is the chat's first line, written by the patient's side.
        await repository.add_message(
            session,
            {
                "consultation_id": consultation_id,
                "seq": 1,
                "sender_user_id": question.requester_user_id,
                "sender_side": Side.patient.value,
                "kind": MessageKind.text.value,
                "body": question.text,
                "created_at": question.created_at,
            },
        )
        await audit.record(
            session,
            principal,
            "quick_question.accept",
            object_type="quick_question",
            object_id=question_id,
            details={"consultation_id": consultation_id, "patient_id": question.patient_id},
        )
        outbox.enqueue(
            session,
            TOPIC_QUESTION_ACCEPTED,
            {
                "quick_question_id": question_id,
                "consultation_id": consultation_id,
                "user_ids": [question.requester_user_id],
            },
        )
    c = await repository.get(session, consultation_id)
    assert c is not None
    return _view(c, side=Side.doctor)


async def cancel_question(
    *, session: AsyncSession, principal: Principal, question_id: int
) -> QuickQuestionOut:
    question = await repository.get_question(session, question_id)
    if question is None or question.patient_id not in await _actable(session, principal):
        raise errors.QuestionNotFound(quick_question_id=question_id)
    async with write_transaction(session):
        if not await repository.close_question(session, question_id, now=utcnow()):
            raise errors.QuestionClosed(quick_question_id=question_id)
        await audit.record(
            session,
            principal,
            "quick_question.cancel",
            object_type="quick_question",
            object_id=question_id,
            details={"patient_id": question.patient_id},
        )
    fresh = await repository.get_question(session, question_id)
    assert fresh is not None
    return _question_view(fresh)


async def widen_unanswered(*, db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Offers questions nobody accepted within N minutes to the department in every hospital of the region."""
    now = now or utcnow()
    before = now - timedelta(minutes=settings.quick_question_widen_minutes)
    async with db.sessionmaker() as session:
        async with write_transaction(session):
            rows = await repository.widen_due(session, created_before=before, now=now)
            for row in rows:
                doctors = await repository.doctors_on_duty(
                    session,
                    department_code=row.department_code,
                    now=now,
                    hospital_id=None,
                    region_adcode=row.region_adcode,
                )
                await audit.record(
                    session,
                    SYSTEM,
                    "quick_question.widen",
                    object_type="quick_question",
                    object_id=row.id,
                    details={"region_adcode": row.region_adcode, "doctors_on_duty": len(doctors)},
                )
                outbox.enqueue(
                    session,
                    TOPIC_QUESTION_WIDENED,
                    {
                        "quick_question_id": row.id,
                        "user_ids": await repository.doctor_user_ids(session, doctors),
                    },
                )
    return len(rows)


async def widen_job(db: Database, settings: Settings) -> None:
    count = await widen_unanswered(db=db, settings=settings)
    if count:
        log.info("offered %d unanswered quick questions region-wide", count)


# ---- chat --------------------------------------------------------------------------------------------


async def join(*, session: AsyncSession, principal: Principal, consultation_id: int) -> Joined:
    """Admits one side to the room (the socket's one access check); audited as a read of the chat."""
    c, side = await _load(session, principal, consultation_id, Action.read)
    async with transaction(session):
        await audit.record(
            session,
            principal,
            "consultation.join",
            object_type="consultation",
            object_id=c.id,
            details={"patient_id": c.patient_id, "side": side.value},
        )
    return Joined(
        consultation_id=c.id,
        side=side,
        user_id=principal.user_id,
        principal=principal,
        consultation=_view(c, side=side),
    )


async def replay(*, session: AsyncSession, joined: Joined, after: int, limit: int = 500) -> list[MessageOut]:
    """Stored messages after a sequence, for a side already admitted (join audited the read)."""
    rows = await repository.messages_after(session, joined.consultation_id, after=after, limit=limit)
    files = await repository.attachments(session, [m.attachment_id for m in rows if m.attachment_id])
    return [_message_view(m, files.get(m.attachment_id) if m.attachment_id else None) for m in rows]


async def messages(
    *, session: AsyncSession, principal: Principal, consultation_id: int, after: int = 0
) -> list[MessageOut]:
    joined = await join(session=session, principal=principal, consultation_id=consultation_id)
    return await replay(session=session, joined=joined, after=after)


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body or len(body) > policies.MAX_MESSAGE_CHARS:
        raise errors.EmptyMessage(max_chars=policies.MAX_MESSAGE_CHARS)
    return body


async def post_message(
    *,
    session: AsyncSession,
    joined: Joined,
    body: str,
    client_msg_id: str | None,
    events: EventBus | None = None,
    attachment: Attachment | None = None,
) -> tuple[MessageOut, bool]:
    """Stores one message with the next sequence number, then publishes it; (message, newly stored).

    A message resent with a client id already stored answers the stored one: stored once. Text
    messages go through the group-commit writer (one transaction for all that wait at once).
    """
    if attachment is None:
        body = _clean_body(body)
        writer = _writer_for(session)
        if writer is not None:
            if session.in_transaction():
                # Give this request's connection back first: the writer needs one from the same
                # pool, and a burst of requests each holding theirs would leave it none.
                await session.commit()
            return await writer.submit(joined=joined, body=body, client_msg_id=client_msg_id, events=events)
    return await _post_one(
        session=session,
        joined=joined,
        body=body,
        client_msg_id=client_msg_id,
        events=events,
        attachment=attachment,
    )


async def _post_one(
    *,
    session: AsyncSession,
    joined: Joined,
    body: str,
    client_msg_id: str | None,
    events: EventBus | None,
    attachment: Attachment | None = None,
) -> tuple[MessageOut, bool]:
    """One message in a transaction of its own (attachments, and the fallback of a failed batch)."""
    cid = joined.consultation_id
    if client_msg_id:
        stored = await repository.message_by_client_id(session, cid, client_msg_id)
        if stored is not None:
            file = (
                await repository.get_attachment(session, stored.attachment_id)
                if stored.attachment_id
                else None
            )
            await session.commit()
            return _message_view(stored, file), False
    try:
        async with write_transaction(session):
            seq = await repository.next_seq(session, cid)
            if seq is None:
                raise errors.ConsultationClosed(consultation_id=cid)
            if attachment is not None:
                session.add(attachment)
                await session.flush()
            message = await repository.add_message(
                session,
                {
                    "consultation_id": cid,
                    "seq": seq,
                    "sender_user_id": joined.user_id,
                    "sender_side": joined.side.value,
                    "kind": (MessageKind.attachment if attachment else MessageKind.text).value,
                    "body": body,
                    "client_msg_id": client_msg_id,
                    "attachment_id": attachment.id if attachment else None,
                    "created_at": utcnow(),
                },
            )
            await audit.record(
                session,
                joined.principal,
                "consultation.message.write",
                object_type="consultation",
                object_id=cid,
                details={"seq": seq, "kind": message.kind},
            )
    except IntegrityError:
        # The same client id raced in on another connection and won: answer its message.
        if not client_msg_id:
            raise
        stored = await repository.message_by_client_id(session, cid, client_msg_id)
        if stored is None:
            raise
        file = (
            await repository.get_attachment(session, stored.attachment_id) if stored.attachment_id else None
        )
        return _message_view(stored, file), False
    view = _message_view(message, attachment)
    await _publish(events, cid, view.frame())
    return view, True


@dataclass
class _Pending:
    joined: Joined
    body: str
    client_msg_id: str | None
    events: EventBus | None
    future: asyncio.Future[tuple[MessageOut, bool]]


class _ChatWriter:
    """Group commit for chat messages: whatever waits while a transaction runs is stored in the next
    one, together. Each message still takes its number from the consultation's counter by a
    conditional UPDATE, and a resent client id still meets the unique index, inside that transaction;
    only the round trips of BEGIN and COMMIT (and, on SQLite, the writer lock) are shared. A batch
    locks consultations in id order, so two processes' batches cannot deadlock on PostgreSQL.
    """

    BATCH = 200

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.queue: list[_Pending] = []
        self.task: asyncio.Task[None] | None = None

    async def submit(
        self, *, joined: Joined, body: str, client_msg_id: str | None, events: EventBus | None
    ) -> tuple[MessageOut, bool]:
        future: asyncio.Future[tuple[MessageOut, bool]] = asyncio.get_running_loop().create_future()
        self.queue.append(_Pending(joined, body, client_msg_id, events, future))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())
        return await asyncio.shield(future)

    def _session(self) -> AsyncSession:
        return AsyncSession(bind=self.engine, expire_on_commit=False)

    async def _run(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[: self.BATCH], self.queue[self.BATCH :]
            try:
                await self._store(batch)
            except _BatchConflict:
                log.debug("a chat batch of %d met a resent client id; storing one by one", len(batch))
                await self._one_by_one(batch)
            except Exception:
                log.warning(
                    "a chat batch of %d failed; storing its messages one by one", len(batch), exc_info=True
                )
                await self._one_by_one(batch)

    async def _one_by_one(self, batch: list[_Pending]) -> None:
        for pending in batch:
            if pending.future.done():
                continue
            try:
                async with self._session() as session:
                    result = await _post_one(
                        session=session,
                        joined=pending.joined,
                        body=pending.body,
                        client_msg_id=pending.client_msg_id,
                        events=pending.events,
                    )
                pending.future.set_result(result)
            except Exception as exc:
                pending.future.set_exception(exc)

    async def _store(self, batch: list[_Pending]) -> None:
        """One transaction for the batch, in a fixed number of statements whatever its size."""
        now = utcnow()
        async with self._session() as session:
            async with write_transaction(session):
                # A client id twice in this batch is stored once; one stored earlier makes the
                # INSERT below come up short, and the batch is redone message by message.
                fresh: list[_Pending] = []
                repeats: list[_Pending] = []
                seen: set[tuple[int, str]] = set()
                for pending in batch:
                    key = (pending.joined.consultation_id, pending.client_msg_id or "")
                    if pending.client_msg_id and key in seen:
                        repeats.append(pending)
                        continue
                    if pending.client_msg_id:
                        seen.add(key)
                    fresh.append(pending)
                counts: dict[int, int] = {}
                for pending in fresh:
                    counts[pending.joined.consultation_id] = counts.get(pending.joined.consultation_id, 0) + 1
                last = await repository.take_seqs(session, counts) if counts else {}
                next_seq = {cid: last[cid] - counts[cid] + 1 for cid in last}
                stored: list[tuple[_Pending, Message]] = []
                closed: list[_Pending] = []
                for pending in fresh:  # arrival order: per room, the order the socket sent them
                    cid = pending.joined.consultation_id
                    if cid not in next_seq:
                        closed.append(pending)
                        continue
                    seq = next_seq[cid]
                    next_seq[cid] = seq + 1
                    message = Message(
                        consultation_id=cid,
                        seq=seq,
                        sender_user_id=pending.joined.user_id,
                        sender_side=pending.joined.side.value,
                        kind=MessageKind.text.value,
                        body=pending.body,
                        client_msg_id=pending.client_msg_id,
                        attachment_id=None,
                        created_at=now,
                    )
                    stored.append((pending, message))
                rows = [
                    {c.key: getattr(m, c.key) for c in Message.__table__.columns if c.key != "id"}
                    for _, m in stored
                ]
                if await repository.insert_messages(session, rows) != len(rows):
                    # Another process stored one of these client ids meanwhile: redo one by one.
                    raise _BatchConflict()
                for pending, message in stored:
                    await audit.record(
                        session,
                        pending.joined.principal,
                        "consultation.message.write",
                        object_type="consultation",
                        object_id=message.consultation_id,
                        details={"seq": message.seq, "kind": MessageKind.text.value},
                    )
        for pending, message in stored:
            view = _message_view(message)
            await _publish(pending.events, message.consultation_id, view.frame())
            if not pending.future.done():
                pending.future.set_result((view, True))
        for pending in repeats:
            key = (pending.joined.consultation_id, pending.client_msg_id or "")
            found = next((m for p, m in stored if (m.consultation_id, m.client_msg_id) == key), None)
            if pending.future.done():
                continue
            if found is None:
                pending.future.set_exception(errors.ConsultationClosed(consultation_id=key[0]))
            else:
                pending.future.set_result((_message_view(found), False))
        for pending in closed:
            if not pending.future.done():
                pending.future.set_exception(
                    errors.ConsultationClosed(consultation_id=pending.joined.consultation_id)
                )


class _BatchConflict(Exception):
    """A batch met a client id stored by a concurrent transaction; its messages are stored singly."""


_writers: dict[tuple[int, int], _ChatWriter] = {}


def _writer_for(session: AsyncSession) -> _ChatWriter | None:
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        return None
    key = (id(engine), id(asyncio.get_running_loop()))
    writer = _writers.get(key)
    if writer is None or writer.engine is not engine:
        if len(_writers) > 64:  # loops of finished tests; a server has one
            _writers.clear()
        writer = _writers[key] = _ChatWriter(engine)
    return writer


async def send_message(
    *,
    session: AsyncSession,
    principal: Principal,
    consultation_id: int,
    body: str,
    client_msg_id: str | None = None,
    events: EventBus | None = None,
) -> tuple[MessageOut, bool]:
    """The HTTP way to write: checks access, then as post_message."""
    c, side = await _load(session, principal, consultation_id, Action.write)
    if not policies.open_for_messages(Status(c.status)):
        raise errors.ConsultationClosed(consultation_id=consultation_id)
    joined = Joined(consultation_id, side, principal.user_id, principal, _view(c, side=side))
    return await post_message(
        session=session, joined=joined, body=body, client_msg_id=client_msg_id, events=events
    )


async def mark_read(
    *, session: AsyncSession, joined: Joined, seq: int, events: EventBus | None = None
) -> int | None:
    """已读: moves this side's read mark forward and tells the other side."""
    async with write_transaction(session):
        moved = await repository.mark_read(
            session, joined.consultation_id, doctor_side=joined.side is Side.doctor, seq=seq
        )
    if moved is not None:
        await _publish(
            events, joined.consultation_id, {"type": "read", "side": joined.side.value, "seq": moved}
        )
    return moved


async def read_receipt(
    *,
    session: AsyncSession,
    principal: Principal,
    consultation_id: int,
    seq: int,
    events: EventBus | None = None,
) -> int | None:
    c, side = await _load(session, principal, consultation_id, Action.write)
    joined = Joined(consultation_id, side, principal.user_id, principal, _view(c, side=side))
    return await mark_read(session=session, joined=joined, seq=seq, events=events)


async def relay_signal(*, joined: Joined, data: Mapping[str, Any], events: EventBus | None) -> None:
    """WebRTC signalling (offer, answer, ICE candidates): relayed live to the other side, not stored."""
    await _publish(
        events, joined.consultation_id, {"type": "signal", "from": joined.side.value, "data": dict(data)}
    )


# ---- attachments -------------------------------------------------------------------------------------


async def add_attachment(
    *,
    session: AsyncSession,
    settings: Settings,
    blobs: BlobStore,
    principal: Principal,
    consultation_id: int,
    data: bytes,
    file_name: str | None,
    client_msg_id: str | None = None,
    events: EventBus | None = None,
) -> MessageOut:
    """An image or PDF sent in the chat: size limited, type checked by content, kept by SHA-256."""
    c, side = await _load(session, principal, consultation_id, Action.write)
    if not policies.open_for_messages(Status(c.status)):
        raise errors.ConsultationClosed(consultation_id=consultation_id)
    if len(data) > settings.attachment_max_bytes:
        raise errors.AttachmentTooLarge(max_bytes=settings.attachment_max_bytes)
    content_type = policies.sniff_content_type(data)
    if content_type is None:
        raise errors.UnsupportedAttachment()
    try:
        key = await blobs.put(data)
    except (BlobStoreError, OSError) as exc:
        raise errors.BlobUnavailable() from exc
    assert principal.user_id is not None
    name = policies.clean_file_name(file_name)
    attachment = Attachment(
        consultation_id=consultation_id,
        sha256=key,
        content_type=content_type,
        size_bytes=len(data),
        file_name=name,
        uploaded_by_user_id=principal.user_id,
        created_at=utcnow(),
    )
    joined = Joined(consultation_id, side, principal.user_id, principal, _view(c, side=side))
    view, _ = await post_message(
        session=session,
        joined=joined,
        body=name or content_type,
        client_msg_id=client_msg_id,
        events=events,
        attachment=attachment,
    )
    return view


async def read_attachment(
    *, session: AsyncSession, blobs: BlobStore, principal: Principal, consultation_id: int, attachment_id: int
) -> tuple[bytes, AttachmentOut]:
    c, _ = await _load(session, principal, consultation_id, Action.read)
    attachment = await repository.get_attachment(session, attachment_id)
    if attachment is None or attachment.consultation_id != consultation_id:
        raise errors.AttachmentNotFound(attachment_id=attachment_id)
    try:
        data = await blobs.get(attachment.sha256)
    except BlobNotFound as exc:
        raise errors.AttachmentNotFound(attachment_id=attachment_id) from exc
    except (BlobStoreError, OSError) as exc:
        raise errors.BlobUnavailable() from exc
    async with transaction(session):
        await audit.record(
            session,
            principal,
            "consultation.attachment.read",
            object_type="consultation",
            object_id=c.id,
            details={"attachment_id": attachment_id, "patient_id": c.patient_id},
        )
    return data, _attachment_view(attachment)


# ---- calls -------------------------------------------------------------------------------------------

_CALLS_ALLOWED = {
    Mode.text: frozenset[str](),
    Mode.voice: frozenset({"voice"}),
    Mode.video: frozenset({"voice", "video"}),
}


def _duration_text(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


async def _end_call_in_tx(
    session: AsyncSession, principal: Principal, call: Call, now: datetime
) -> dict[str, Any]:
    since = call.connected_at
    duration = max(0, int((now - since).total_seconds())) if since else 0
    await repository.end_call(
        session,
        call.id,
        values={"ended_at": now, "duration_seconds": duration, "ended_by_user_id": principal.user_id},
    )
    label = "语音" if call.mode == "voice" else "视频"
    body = f"{label}通话结束，时长 {_duration_text(duration)}" if since else f"{label}通话未接通"
    seq = await _raw_next_seq(session, call.consultation_id)
    message = await repository.add_message(
        session,
        {
            "consultation_id": call.consultation_id,
            "seq": seq,
            "sender_user_id": principal.user_id,
            "sender_side": Side.system.value,
            "kind": MessageKind.call.value,
            "body": body,
            "created_at": now,
        },
    )
    await audit.record(
        session,
        principal,
        "consultation.call.end",
        object_type="consultation",
        object_id=call.consultation_id,
        details={"call_id": call.id, "duration_seconds": duration},
    )
    return _message_view(message).frame()


async def start_call(
    *,
    session: AsyncSession,
    principal: Principal,
    consultation_id: int,
    mode: str,
    events: EventBus | None = None,
) -> CallOut:
    """Rings the other side; the consultation must be in progress and of a mode that allows the call."""
    c, side = await _load(session, principal, consultation_id, Action.call)
    if c.status != Status.in_progress.value or mode not in _CALLS_ALLOWED[Mode(c.mode)]:
        raise errors.CallNotAllowed(mode=mode, consultation_mode=c.mode, status=c.status)
    now = utcnow()
    assert principal.user_id is not None
    async with write_transaction(session):
        call_id = await repository.open_call(
            session,
            {
                "consultation_id": consultation_id,
                "mode": mode,
                "status": CallStatus.ringing.value,
                "started_by_user_id": principal.user_id,
                "started_at": now,
            },
        )
        if call_id is None:
            raise errors.CallInProgress(consultation_id=consultation_id)
        await audit.record(
            session,
            principal,
            "consultation.call.start",
            object_type="consultation",
            object_id=consultation_id,
            details={"call_id": call_id, "mode": mode},
        )
    call = await repository.get_call(session, call_id)
    assert call is not None
    view = _call_view(call)
    await _publish(
        events, consultation_id, {"type": "call", "from": side.value, "call": view.model_dump(mode="json")}
    )
    return view


async def answer_call(
    *, session: AsyncSession, principal: Principal, consultation_id: int, events: EventBus | None = None
) -> CallOut:
    _c, side = await _load(session, principal, consultation_id, Action.call)
    call = await repository.current_call(session, consultation_id)
    if call is None:
        raise errors.NoOpenCall(consultation_id=consultation_id)
    async with write_transaction(session):
        if not await repository.connect_call(session, call.id, now=utcnow()):
            raise errors.NoOpenCall(consultation_id=consultation_id)
        await audit.record(
            session,
            principal,
            "consultation.call.connect",
            object_type="consultation",
            object_id=consultation_id,
            details={"call_id": call.id},
        )
    fresh = await repository.get_call(session, call.id)
    assert fresh is not None
    view = _call_view(fresh)
    await _publish(
        events, consultation_id, {"type": "call", "from": side.value, "call": view.model_dump(mode="json")}
    )
    return view


async def end_call(
    *, session: AsyncSession, principal: Principal, consultation_id: int, events: EventBus | None = None
) -> CallOut:
    """Hangs up: end time and duration (from the moment it connected) are recorded in the chat."""
    _c, side = await _load(session, principal, consultation_id, Action.call)
    call = await repository.current_call(session, consultation_id)
    if call is None:
        raise errors.NoOpenCall(consultation_id=consultation_id)
    async with write_transaction(session):
        fresh_open = await repository.current_call(session, consultation_id)
        if fresh_open is None or fresh_open.id != call.id:
            raise errors.NoOpenCall(consultation_id=consultation_id)
        frame = await _end_call_in_tx(session, principal, fresh_open, utcnow())
    ended = await repository.get_call(session, call.id)
    assert ended is not None
    view = _call_view(ended)
    await _publish(events, consultation_id, frame)
    await _publish(
        events, consultation_id, {"type": "call", "from": side.value, "call": view.model_dump(mode="json")}
    )
    return view


async def calls(*, session: AsyncSession, principal: Principal, consultation_id: int) -> list[CallOut]:
    await _load(session, principal, consultation_id, Action.read)
    return [_call_view(call) for call in await repository.calls_of(session, consultation_id)]


def ice_servers(*, settings: Settings, principal: Principal, now: int | None = None) -> IceOut:
    """STUN URLs, and TURN URLs with credentials minted for this user, valid for the configured time."""
    servers: list[IceServer] = []
    stun = policies.split_urls(settings.ice_stun_urls, ("stun:", "stuns:"))
    if stun:
        servers.append(IceServer(urls=stun))
    turn = policies.split_urls(settings.turn_urls, ("turn:", "turns:"))
    expires: int | None = None
    if turn and settings.turn_secret:
        moment = int(utcnow().timestamp()) if now is None else now
        username, credential = policies.turn_credentials(
            secret=settings.turn_secret,
            user=str(principal.user_id or principal.username),
            now=moment,
            ttl_seconds=settings.turn_ttl_seconds,
        )
        expires = moment + settings.turn_ttl_seconds
        servers.append(IceServer(urls=turn, username=username, credential=credential))
    return IceOut(ice_servers=servers, expires_at=expires)


# ---- retention ---------------------------------------------------------------------------------------


async def purge_chat(
    *, session: AsyncSession, principal: Principal, consultation_id: int, today: date | None = None
) -> int:
    """Deletes a consultation's chat after the 3-year retention, by the platform only; refused before."""
    if not principal.system:
        raise Forbidden(action="purge_chat")
    c = await repository.get(session, consultation_id)
    if c is None:
        raise errors.ConsultationNotFound(consultation_id=consultation_id)
    ended = c.completed_at or c.ended_at
    ended_day = ended.astimezone(SHANGHAI).date() if ended else None
    today = today or registry_service.today()
    if not policies.retention_elapsed(ended_day, today):
        keep = policies.keep_until(ended_day).isoformat() if ended_day else "—"
        raise errors.RetentionNotElapsed(consultation_id=consultation_id, keep_until=keep)
    async with write_transaction(session):
        deleted = await repository.delete_chat(session, consultation_id)
        await audit.record(
            session,
            principal,
            "consultation.chat.purge",
            object_type="consultation",
            object_id=consultation_id,
            details={"messages_deleted": deleted},
        )
    return deleted
