"""Capacity is decided by the database: a stampede of real concurrent requests books exactly k places."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select

from regio.care.booking import errors, service
from regio.care.booking.models import Appointment, Slot
from regio.config import Settings
from regio.core.db import Database
from tests.care.booking.conftest import MakePatients, MakeShift, PatientUser


async def book_as(db: Database, settings: Settings, person: PatientUser, slot_id: int) -> Any:
    async with db.sessionmaker() as session:
        return await service.book(
            session=session,
            settings=settings,
            principal=person.principal,
            slot_id=slot_id,
            patient_id=person.patient_id,
        )


@pytest.mark.parametrize("capacity", [1, 3])
async def test_two_hundred_concurrent_bookings_give_out_exactly_the_capacity(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients, capacity: int
) -> None:
    shift = await make_shift(capacity=capacity)
    slot_id = shift.slots[0].id
    patients = await make_patients(200)
    in_use = 0
    most_in_use = 0
    connections: set[int] = set()

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        nonlocal in_use, most_in_use
        in_use += 1
        most_in_use = max(most_in_use, in_use)
        connections.add(id(dbapi_connection))

    def checkin(_dbapi_connection: Any, _record: Any) -> None:
        nonlocal in_use
        in_use -= 1

    event.listen(db.engine.sync_engine, "checkout", checkout)
    event.listen(db.engine.sync_engine, "checkin", checkin)
    try:
        results = await asyncio.gather(
            *(book_as(db, settings, person, slot_id) for person in patients), return_exceptions=True
        )
    finally:
        event.remove(db.engine.sync_engine, "checkout", checkout)
        event.remove(db.engine.sync_engine, "checkin", checkin)

    booked = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(booked) == capacity
    assert all(isinstance(r, errors.SlotFull) for r in refused), {type(r).__name__ for r in refused}
    assert most_in_use >= 4 and len(connections) >= 4  # real concurrency, not one shared connection
    async with db.session() as session:
        slot = await session.get(Slot, slot_id)
        assert slot is not None and slot.booked == capacity
        rows = await session.scalar(select(func.count()).select_from(Appointment))
        assert rows == capacity


async def test_the_sqlite_test_database_is_a_file_in_wal_mode(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    assert ":memory:" not in db.url
    async with db.engine.connect() as connection:
        journal = await connection.exec_driver_sql("PRAGMA journal_mode")
        assert journal.scalar_one() == "wal"
