"""The booking hot path is short and still whole: audited, all-or-nothing, few statements."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from regio.care.booking import errors, service
from regio.care.booking.models import Appointment, Slot
from regio.care.patients.errors import NotBoundToPatient
from regio.config import Settings
from regio.core import audit
from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.booking.conftest import MakePatients, MakeShift, PatientUser, World


async def book(db: Database, settings: Settings, person: PatientUser, slot_id: int, **kwargs: Any) -> Any:
    async with db.session() as session:
        return await service.book(
            session=session,
            settings=settings,
            principal=person.principal,
            slot_id=slot_id,
            patient_id=person.patient_id,
            **kwargs,
        )


async def counts(db: Database, slot_id: int) -> tuple[int, int, int]:
    """(places booked on the slot, its appointments, audit entries of holds)."""
    async with db.session() as session:
        booked = (await session.execute(select(Slot.booked).where(Slot.id == slot_id))).scalar_one()
        made = (
            await session.execute(select(func.count()).where(Appointment.slot_id == slot_id))
        ).scalar_one()
        audited = (
            await session.execute(select(func.count()).where(AuditEntry.action == "appointment.hold"))
        ).scalar_one()
    return int(booked), int(made), int(audited)


async def test_a_hold_is_audited_with_who_what_and_it_seals_into_a_chain_that_verifies(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=2)
    [person] = await make_patients(1)
    held = await book(db, settings, person, shift.slots[0].id)
    async with db.session() as session:
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "appointment.hold"))
        ).scalar_one()
    assert entry.object_type == "appointment" and entry.object_id == str(held.id)
    assert entry.actor_user_id == person.user.id
    assert entry.roles == ["patient"]
    assert entry.details == {"slot_id": shift.slots[0].id, "patient_id": person.patient_id, "is_extra": False}
    assert await audit.seal(db=db, settings=settings) >= 1
    async with db.session() as session:
        assert (await audit.verify(session=session, settings=settings)).ok


async def test_a_place_beyond_the_roster_capacity_is_held_and_audited_as_extra(
    db: Database, settings: Settings, world: World, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    slot_id = shift.slots[0].id
    first, second = await make_patients(2)
    assert not (await book(db, settings, first, slot_id)).is_extra
    async with db.session() as session:
        await service.grant_extra(
            session=session,
            settings=settings,
            principal=world.doctor,
            slot_id=slot_id,
            places=1,
            reason="复诊",
        )
    extra = await book(db, settings, second, slot_id)
    assert extra.is_extra
    async with db.session() as session:
        details = (
            await session.execute(
                select(AuditEntry.details).where(
                    AuditEntry.action == "appointment.hold", AuditEntry.object_id == str(extra.id)
                )
            )
        ).scalar_one()
    assert details["is_extra"] is True


async def test_a_second_booking_with_the_doctor_that_day_gives_its_place_back_and_writes_nothing(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=3)
    [person] = await make_patients(1)
    await book(db, settings, person, shift.slots[0].id)
    before = await counts(db, shift.slots[1].id)
    with pytest.raises(errors.OneBookingPerDoctorPerDay):
        await book(db, settings, person, shift.slots[1].id)
    assert await counts(db, shift.slots[1].id) == before == (0, 0, 1)


async def test_a_mode_the_slot_does_not_offer_is_refused_and_takes_no_place(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=2, modes=["text"])
    [person] = await make_patients(1)
    with pytest.raises(errors.InvalidMode):
        await book(db, settings, person, shift.slots[0].id, mode="video")
    assert await counts(db, shift.slots[0].id) == (0, 0, 0)
    held = await book(db, settings, person, shift.slots[0].id, mode="text")
    assert held.mode == "text"


async def test_booking_for_a_patient_one_is_not_bound_to_is_refused_before_any_place_is_taken(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=2)
    me, stranger = await make_patients(2)
    async with db.session() as session:
        with pytest.raises(NotBoundToPatient):
            await service.book(
                session=session,
                settings=settings,
                principal=me.principal,
                slot_id=shift.slots[0].id,
                patient_id=stranger.patient_id,
            )
    assert await counts(db, shift.slots[0].id) == (0, 0, 0)


async def test_a_slot_that_does_not_exist_or_is_full_is_told_apart(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    first, second = await make_patients(2)
    with pytest.raises(errors.SlotNotFound):
        await book(db, settings, first, 10**9)
    await book(db, settings, first, shift.slots[0].id)
    with pytest.raises(errors.SlotFull):
        await book(db, settings, second, shift.slots[0].id)


async def test_a_hold_costs_one_statement_on_postgresql_and_five_on_sqlite(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    """Round trips are what a stampede queues on: the binding and no-show checks, the place, the
    appointment and its audit entry are one statement on PostgreSQL; SQLite reads once, then
    BEGIN IMMEDIATE, the place, the appointment, the audit entry."""
    shift = await make_shift(capacity=2)
    [person] = await make_patients(1)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await book(db, settings, person, shift.slots[0].id)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == (5 if db.is_sqlite else 1)
    assert await counts(db, shift.slots[0].id) == (1, 1, 1)
