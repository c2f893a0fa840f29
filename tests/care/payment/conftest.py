"""Fixtures for payment tests: a Hangzhou hospital with a roster, an insured patient holding a booking,
and the in-memory gateway."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from regio.care.booking import service as booking_service
from regio.care.payment import gateways, repository, service
from regio.care.payment.schemas import OrderIn, OrderOut
from regio.config import Settings
from regio.core.db import Database, utcnow
from tests.care.booking.conftest import MakeShift, PatientUser, World, build_world, patients_for, shift_for


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


@pytest.fixture
def make_shift(db: Database, world: World) -> MakeShift:
    async def make(**kwargs: object) -> object:
        return await shift_for(db, world, **kwargs)  # type: ignore[arg-type]

    return make  # type: ignore[return-value]


@pytest.fixture
def gateway() -> gateways.MemoryGateway:
    return gateways.MemoryGateway()


async def enrol(
    db: Database,
    patient_id: int,
    *,
    scheme: str = "employee",
    chronic: list[str] | None = None,
    account: int = 0,
) -> None:
    async with db.session() as session, session.begin():
        await repository.save_enrolment(
            session,
            {
                "patient_id": patient_id,
                "region_adcode": "330000",
                "scheme": scheme,
                "chronic_diseases": chronic or [],
                "personal_account_fen": account,
                "updated_by_user_id": None,
                "updated_at": utcnow(),
            },
        )


@dataclass
class Held:
    world: World
    patient: PatientUser
    appointment_id: int


MakeHeld = Callable[..., Awaitable[Held]]


@pytest.fixture
def make_held(db: Database, settings: Settings, world: World) -> MakeHeld:
    async def make(capacity: int = 5, patient: PatientUser | None = None, days_ahead: int = 1) -> Held:
        day = world.tomorrow + timedelta(days=days_ahead - 1)
        shift = await shift_for(db, world, capacity=capacity, day=day)
        person = patient or (await patients_for(db, settings, 1))[0]
        async with db.session() as session:
            held = await booking_service.book(
                session=session,
                settings=settings,
                principal=person.principal,
                slot_id=shift.slots[0].id,
                patient_id=person.patient_id,
            )
        return Held(world=world, patient=person, appointment_id=held.id)

    return make


async def order_for(db: Database, settings: Settings, held: Held, **kwargs: object) -> OrderOut:
    async with db.session() as session:
        return await service.create_order(
            session=session,
            principal=held.patient.principal,
            data=OrderIn(appointment_id=held.appointment_id, **kwargs),  # type: ignore[arg-type]
            settings=settings,
        )


async def pay(
    db: Database, settings: Settings, held: Held, order_id: int, gateway: gateways.Gateway
) -> OrderOut:
    async with db.session() as session:
        return await service.pay(
            session=session,
            principal=held.patient.principal,
            order_id=order_id,
            settings=settings,
            gateway=gateway,
        )
