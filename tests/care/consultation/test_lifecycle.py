"""A consultation moves waiting → in progress → completed, or cancelled / no-show; nothing else."""

from __future__ import annotations

import asyncio
from datetime import time

import pytest
from sqlalchemy import func, select

from regio.care.booking import errors as booking_errors
from regio.care.consultation import errors, service
from regio.care.consultation.enums import Status, Urgency
from regio.care.consultation.models import Consultation, Message
from regio.care.registry.errors import DoctorNotEligibleOnline
from regio.config import Settings
from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import MakePatients, confirmed_booking, open_consultation


async def test_a_confirmed_booking_opens_one_consultation_however_often_it_is_asked(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    appointment_id = await confirmed_booking(db, settings, world, patient)

    async def open_as(principal: object) -> object:
        async with db.sessionmaker() as session:
            return await service.open_from_appointment(
                session=session,
                principal=principal,
                appointment_id=appointment_id,  # type: ignore[arg-type]
            )

    results = await asyncio.gather(*(open_as(p) for p in [patient.principal, world.doctor] * 5))
    assert len({r.id for r in results}) == 1  # type: ignore[attr-defined]
    async with db.session() as session:
        count = await session.scalar(select(func.count()).select_from(Consultation))
        row = (await session.execute(select(Consultation))).scalar_one()
    assert count == 1
    assert row.status == "waiting"
    assert row.doctor_id == world.doctor_id and row.patient_id == patient.patient_id
    assert row.requester_user_id == patient.user.id and row.source == "appointment"


async def test_a_held_booking_cannot_be_opened(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    from regio.care.booking import service as booking_service
    from tests.care.booking.conftest import shift_for

    [patient] = await make_patients(1)
    shift = await shift_for(db, world, capacity=2)
    async with db.session() as session:
        held = await booking_service.book(
            session=session,
            settings=settings,
            principal=patient.principal,
            slot_id=shift.slots[0].id,
            patient_id=patient.patient_id,
        )
    async with db.session() as session:
        with pytest.raises(errors.AppointmentNotConfirmed):
            await service.open_from_appointment(
                session=session, principal=patient.principal, appointment_id=held.id
            )


async def test_a_stranger_cannot_open_someone_elses_booking(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    owner, stranger = await make_patients(2)
    appointment_id = await confirmed_booking(db, settings, world, owner)
    async with db.session() as session:
        with pytest.raises(booking_errors.AppointmentNotFound):
            await service.open_from_appointment(
                session=session, principal=stranger.principal, appointment_id=appointment_id
            )


async def test_the_full_life_cycle_writes_times_status_lines_and_audit(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.completed)
    assert c.status == "completed"
    assert c.started_at is not None and c.completed_at is not None and c.completed_at >= c.started_at
    async with db.session() as session:
        lines = (await session.execute(select(Message.seq, Message.sender_side).order_by(Message.seq))).all()
        actions = set((await session.execute(select(AuditEntry.action))).scalars())
    assert [seq for seq, _ in lines] == [1, 2]
    assert {side for _, side in lines} == {"system"}
    assert {"consultation.open", "consultation.in_progress", "consultation.completed"} <= actions


@pytest.mark.parametrize(
    ("start_from", "target"),
    [
        (Status.waiting, Status.completed),
        (Status.in_progress, Status.in_progress),
        (Status.in_progress, Status.cancelled),
        (Status.in_progress, Status.no_show),
        (Status.completed, Status.in_progress),
        (Status.completed, Status.cancelled),
        (Status.cancelled, Status.in_progress),
        (Status.no_show, Status.completed),
    ],
)
async def test_illegal_transitions_are_refused_with_a_stable_code(
    db: Database,
    settings: Settings,
    world: World,
    make_patients: MakePatients,
    start_from: Status,
    target: Status,
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=start_from)
    async with db.session() as session:
        with pytest.raises(errors.IllegalTransition) as refused:
            await service.move(session=session, principal=world.doctor, consultation_id=c.id, target=target)
    assert refused.value.code == "illegal_transition"
    assert refused.value.status == 409
    async with db.session() as session:
        assert (await session.get(Consultation, c.id)).status == start_from.value  # type: ignore[union-attr]


async def test_the_patient_may_cancel_while_waiting_but_not_start_or_complete(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient)
    async with db.session() as session:
        with pytest.raises(errors.Forbidden):
            await service.move(
                session=session, principal=patient.principal, consultation_id=c.id, target=Status.in_progress
            )
    async with db.session() as session:
        done = await service.move(
            session=session, principal=patient.principal, consultation_id=c.id, target=Status.cancelled
        )
    assert done.status == "cancelled" and done.end_reason == "patient"


async def test_two_doctors_racing_to_start_and_cancel_leave_one_outcome(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient)

    async def act(target: Status) -> object:
        async with db.sessionmaker() as session:
            return await service.move(
                session=session, principal=world.doctor, consultation_id=c.id, target=target
            )

    results = await asyncio.gather(
        *(act(t) for t in [Status.in_progress, Status.no_show, Status.cancelled] * 4), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, errors.IllegalTransition) for r in results if isinstance(r, BaseException))


async def test_a_doctor_no_longer_eligible_online_cannot_start(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    from regio.care.registry.models import Doctor

    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient)
    async with db.session() as session, session.begin():
        doctor = await session.get(Doctor, world.doctor_id)
        assert doctor is not None
        doctor.real_name_verified = False
    async with db.session() as session:
        with pytest.raises(DoctorNotEligibleOnline):
            await service.move(
                session=session, principal=world.doctor, consultation_id=c.id, target=Status.in_progress
            )


async def test_the_queue_orders_by_slot_time_then_urgency_and_gives_each_patient_a_wait(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    patients = await make_patients(3)
    early = await open_consultation(db, settings, world, patients[0], start=time(8))
    # Two patients in the same later slot: the urgent one goes first.
    appointment_a = await confirmed_booking(db, settings, world, patients[1], start=time(9))
    appointment_b = await confirmed_booking(db, settings, world, patients[2], start=time(9))
    async with db.session() as session:
        routine = await service.open_from_appointment(
            session=session, principal=patients[1].principal, appointment_id=appointment_a
        )
    async with db.session() as session:
        urgent = await service.open_from_appointment(
            session=session,
            principal=patients[2].principal,
            appointment_id=appointment_b,
            urgency=Urgency.urgent,
        )
    async with db.session() as session:
        queue = await service.doctor_queue(session=session, settings=settings, principal=world.doctor)
    assert [i.id for i in queue.items] == [early.id, urgent.id, routine.id]
    assert [i.queue_position for i in queue.items] == [1, 2, 3]
    assert [i.expected_wait_minutes for i in queue.items] == [0, 10, 20]  # the default 10 minutes each

    async with db.session() as session:
        await service.move(
            session=session, principal=world.doctor, consultation_id=early.id, target=Status.in_progress
        )
    async with db.session() as session:
        seen = await service.get_consultation(
            session=session, settings=settings, principal=patients[1].principal, consultation_id=routine.id
        )
    assert seen.queue_position == 2
    assert seen.expected_wait_minutes == 20  # one in progress, one urgent ahead
