"""极速提问: offered to the doctors on duty now; the first to accept takes it, exactly once; widened later."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from regio.care.consultation import errors, service
from regio.care.consultation.models import Consultation, Message, QuickQuestion
from regio.care.consultation.schemas import QuickQuestionIn
from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.core.outbox import OutboxMessage
from tests.care.booking.conftest import PatientUser, World
from tests.care.consultation.conftest import DoctorUser, MakePatients, add_doctor, on_duty_now
from tests.care.registry.helpers import make_hospital


async def ask(db: Database, patient: PatientUser, hospital_id: int, department: str = "respiratory") -> Any:
    async with db.session() as session:
        return await service.ask_quick_question(
            session=session,
            principal=patient.principal,
            data=QuickQuestionIn(
                patient_id=patient.patient_id,
                hospital_id=hospital_id,
                department_code=department,
                text="咳嗽三天，夜间加重，需要吃药吗？",
            ),
        )


async def accept_as(db: Database, doctor: DoctorUser, question_id: int) -> Any:
    async with db.sessionmaker() as session:
        return await service.accept_question(
            session=session, principal=doctor.principal, question_id=question_id
        )


async def test_twenty_doctors_accepting_at_once_give_the_question_to_exactly_one(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    doctors = [await add_doctor(db, world.hospital_id) for _ in range(20)]
    for doctor in doctors:
        await on_duty_now(db, world, doctor.doctor_id)
    [patient] = await make_patients(1)
    question = await ask(db, patient, world.hospital_id)

    results = await asyncio.gather(*(accept_as(db, d, question.id) for d in doctors), return_exceptions=True)

    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert len(lost) == 19 and all(isinstance(r, errors.QuestionTaken) for r in lost), lost
    async with db.session() as session:
        consultations = (await session.execute(select(Consultation))).scalars().all()
        stored = await session.get(QuickQuestion, question.id)
        first_line = (await session.execute(select(Message))).scalars().all()
    assert len(consultations) == 1
    assert stored is not None and stored.status == "accepted"
    assert stored.accepted_doctor_id == consultations[0].doctor_id == won[0].doctor_id
    assert consultations[0].status == "in_progress" and consultations[0].source == "quick_question"
    assert [(m.seq, m.sender_side, m.body) for m in first_line] == [
        (1, "patient", "咳嗽三天，夜间加重，需要吃药吗？")
    ]


async def test_a_doctor_not_on_duty_now_cannot_accept(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    idle = await add_doctor(db, world.hospital_id)
    [patient] = await make_patients(1)
    question = await ask(db, patient, world.hospital_id)
    with pytest.raises(errors.NotOnDuty):
        await accept_as(db, idle, question.id)


async def test_asking_offers_the_question_to_the_doctors_on_duty_through_the_outbox(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    on_duty = await add_doctor(db, world.hospital_id)
    await on_duty_now(db, world, on_duty.doctor_id)
    [patient] = await make_patients(1)
    question = await ask(db, patient, world.hospital_id)
    async with db.session() as session:
        offered = await service.offered_questions(session=session, principal=on_duty.principal)
        notices = (
            (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.topic == service.TOPIC_QUESTION_OFFERED)
                )
            )
            .scalars()
            .all()
        )
    assert [q.id for q in offered] == [question.id]
    assert [n.payload["user_ids"] for n in notices] == [[on_duty.user.id]]


async def test_a_department_the_hospital_does_not_offer_is_refused(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    with pytest.raises(errors.DepartmentNotOffered):
        await ask(db, patient, world.hospital_id, department="dermatology")


async def test_an_unanswered_question_is_widened_to_the_department_in_every_hospital_of_the_region(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    other_hospital = await make_hospital(db, city_adcode="330200")  # Ningbo, same province
    far_doctor = await add_doctor(db, other_hospital)
    await on_duty_now(db, world, far_doctor.doctor_id, hospital_id=other_hospital)
    [patient] = await make_patients(1)
    question = await ask(db, patient, world.hospital_id)

    # Before widening, the other hospital's doctor is not offered it and cannot take it.
    async with db.session() as session:
        assert await service.offered_questions(session=session, principal=far_doctor.principal) == []
    with pytest.raises(errors.NotOnDuty):
        await accept_as(db, far_doctor, question.id)

    too_early = utcnow() + timedelta(minutes=settings.quick_question_widen_minutes - 1)
    assert await service.widen_unanswered(db=db, settings=settings, now=too_early) == 0
    later = utcnow() + timedelta(minutes=settings.quick_question_widen_minutes, seconds=1)
    assert await service.widen_unanswered(db=db, settings=settings, now=later) == 1
    assert await service.widen_unanswered(db=db, settings=settings, now=later) == 0  # once only

    async with db.session() as session:
        offered = await service.offered_questions(session=session, principal=far_doctor.principal)
        widened = (
            (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.topic == service.TOPIC_QUESTION_WIDENED)
                )
            )
            .scalars()
            .all()
        )
    assert [q.id for q in offered] == [question.id]
    assert [n.payload["user_ids"] for n in widened] == [[far_doctor.user.id]]
    taken = await accept_as(db, far_doctor, question.id)
    assert taken.hospital_id == other_hospital


async def test_a_cancelled_question_cannot_be_accepted(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    doctor = await add_doctor(db, world.hospital_id)
    await on_duty_now(db, world, doctor.doctor_id)
    [patient] = await make_patients(1)
    question = await ask(db, patient, world.hospital_id)
    async with db.session() as session:
        await service.cancel_question(session=session, principal=patient.principal, question_id=question.id)
    with pytest.raises(errors.QuestionClosed):
        await accept_as(db, doctor, question.id)
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Consultation)) == 0


async def test_only_the_patients_binder_may_ask_for_them(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    from regio.care.patients.errors import NotBoundToPatient

    owner, stranger = await make_patients(2)
    async with db.session() as session:
        with pytest.raises(NotBoundToPatient):
            await service.ask_quick_question(
                session=session,
                principal=stranger.principal,
                data=QuickQuestionIn(
                    patient_id=owner.patient_id,
                    hospital_id=world.hospital_id,
                    department_code="respiratory",
                    text="?",
                ),
            )


async def test_a_triage_that_found_danger_signs_sends_the_question_offline(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    from regio.care.triage import service as triage_service
    from regio.care.triage.errors import GoOffline
    from regio.care.triage.schemas import TriageIn
    from tests.care.triage.cases import ADULT_FEVER_4_DAYS, LISTLESS_CHILD

    [patient] = await make_patients(1)

    async def assessed(body: dict[str, Any]) -> int:
        async with db.session() as session:
            answer = await triage_service.assess(
                session=session,
                principal=patient.principal,
                data=TriageIn(**body, patient_id=patient.patient_id),
            )
        return answer.id

    def question(assessment_id: int) -> QuickQuestionIn:
        return QuickQuestionIn(
            patient_id=patient.patient_id,
            hospital_id=world.hospital_id,
            department_code="respiratory",
            text="孩子没精神，不想吃东西",
            triage_assessment_id=assessment_id,
        )

    red, fine = await assessed(LISTLESS_CHILD), await assessed(ADULT_FEVER_4_DAYS)
    async with db.session() as session:
        with pytest.raises(GoOffline):
            await service.ask_quick_question(session=session, principal=patient.principal, data=question(red))
    async with db.session() as session:
        asked = await service.ask_quick_question(
            session=session, principal=patient.principal, data=question(fine)
        )
    async with db.session() as session:
        assert [q.id for q in (await session.execute(select(QuickQuestion))).scalars()] == [asked.id]
