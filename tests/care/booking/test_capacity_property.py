"""Property: any interleaving of book / confirm / cancel / expire / extra place / waitlist keeps a slot
within its capacity plus extras, and its booked count equal to its active bookings."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from regio.care.booking import service
from regio.care.booking.models import Appointment, Slot
from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.core.errors import DomainError
from tests.care.booking.conftest import PatientUser, World, build_world, patients_for, shift_for
from tests.conftest import _empty_tables

PATIENTS = 6
_day_offsets = itertools.count(1)

operation = st.one_of(
    st.tuples(st.just("book"), st.integers(0, PATIENTS - 1)),
    st.tuples(st.just("confirm"), st.integers(0, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("expire"), st.integers(1, 20)),
    st.tuples(st.just("extra"), st.integers(1, 3)),
    st.tuples(st.just("wait"), st.integers(0, PATIENTS - 1)),
)


async def _invariant(db: Database, slot_id: int) -> None:
    async with db.session() as session:
        slot = await session.get(Slot, slot_id)
        active = await session.scalar(
            select(func.count()).where(
                Appointment.slot_id == slot_id, Appointment.status.in_(["held", "confirmed"])
            )
        )
    assert slot is not None
    assert 0 <= slot.booked <= slot.capacity + slot.extra
    assert slot.booked == active


async def _run(
    url: str,
    settings: Settings,
    world: World,
    people: list[PatientUser],
    capacity: int,
    ops: list[tuple[str, int]],
) -> None:
    db = Database(url)
    try:
        shift = await shift_for(
            db, world, capacity=capacity, day=world.tomorrow + timedelta(days=next(_day_offsets))
        )
        slot_id = shift.slots[0].id
        clock: datetime = utcnow()
        appointments: list[tuple[int, PatientUser]] = []
        for name, arg in ops:
            try:
                async with db.sessionmaker() as session:
                    if name == "book":
                        made = await service.book(
                            session=session,
                            settings=settings,
                            principal=people[arg].principal,
                            slot_id=slot_id,
                            patient_id=people[arg].patient_id,
                            now=clock,
                        )
                        appointments.append((made.id, people[arg]))
                    elif name in ("confirm", "cancel") and appointments:
                        appointment_id, person = appointments[arg % len(appointments)]
                        if name == "confirm":
                            await service.confirm(
                                session=session,
                                principal=person.principal,
                                appointment_id=appointment_id,
                                now=clock,
                            )
                        else:
                            await service.cancel(
                                session=session,
                                settings=settings,
                                principal=person.principal,
                                appointment_id=appointment_id,
                                now=clock,
                            )
                    elif name == "expire":
                        clock += timedelta(minutes=arg)
                        await service.expire_holds(db=db, settings=settings, now=clock)
                    elif name == "extra":
                        await service.grant_extra(
                            session=session,
                            settings=settings,
                            principal=world.admin,
                            slot_id=slot_id,
                            places=arg,
                            reason="加号",
                            now=clock,
                        )
                    elif name == "wait":
                        await service.join_waitlist(
                            session=session,
                            principal=people[arg].principal,
                            slot_id=slot_id,
                            patient_id=people[arg].patient_id,
                            now=clock,
                        )
            except DomainError:
                pass  # refusals are part of the game; the invariant must hold either way
            await _invariant(db, slot_id)
    finally:
        await db.dispose()


def test_interleaved_operations_keep_bookings_within_capacity_plus_extras(
    database_url: str, settings: Settings
) -> None:
    async def setup() -> tuple[World, list[PatientUser]]:
        db = Database(database_url)
        try:
            return await build_world(db), await patients_for(db, settings, PATIENTS)
        finally:
            await db.dispose()

    world, people = asyncio.run(setup())

    @hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(capacity=st.integers(1, 3), ops=st.lists(operation, min_size=1, max_size=25))
    def check(capacity: int, ops: list[tuple[str, int]]) -> None:
        asyncio.run(_run(database_url, settings, world, people, capacity, ops))

    try:
        check()
    finally:
        _empty_tables(database_url)
