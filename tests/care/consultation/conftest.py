"""Fixtures for consultation tests: a hospital with doctors on duty now, patients, confirmed bookings,
consultations in any state, and a real uvicorn server in the test's own event loop for WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn

from regio.app import create_app
from regio.care.booking import service as booking_service
from regio.care.booking.schemas import ShiftIn
from regio.care.consultation import service
from regio.care.consultation.enums import Status
from regio.care.consultation.schemas import ConsultationOut
from regio.care.registry import service as registry_service
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.blobs import MemoryBlobStore
from regio.core.db import Database, utcnow
from regio.core.identity.models import User
from tests.care.booking.conftest import PatientUser, World, build_world, patients_for, shift_for
from tests.care.registry.helpers import make_doctor
from tests.factories import make_user, principal_for, token_headers

SHANGHAI = ZoneInfo("Asia/Shanghai")
_serial = itertools.count(1)


@dataclass
class DoctorUser:
    doctor_id: int
    user: User
    principal: Principal


async def add_doctor(
    db: Database, hospital_id: int, *, departments: list[str] | None = None, **kw: Any
) -> DoctorUser:
    doctor_id = await make_doctor(db, hospital_id, department_codes=departments or ["respiratory"], **kw)
    grant = RoleGrant(Role.doctor, ScopeKind.hospital, str(hospital_id))
    user = await make_user(db, roles=[grant])
    async with db.session() as session:
        await registry_service.link_doctor_user(
            session=session, principal=registry_service.SYSTEM, doctor_id=doctor_id, user_id=user.id
        )
    return DoctorUser(doctor_id=doctor_id, user=user, principal=principal_for(user, [grant]))


async def on_duty_now(
    db: Database,
    world: World,
    doctor_id: int,
    *,
    department: str = "respiratory",
    hospital_id: int | None = None,
) -> None:
    """A shift that began an hour ago and ends in two hours (local time), for this doctor."""
    local_now = utcnow().astimezone(SHANGHAI)
    start = (local_now - timedelta(hours=1)).replace(second=0, microsecond=0)
    start = start.replace(minute=start.minute - start.minute % 30)
    end = start + timedelta(hours=3)
    async with db.session() as session:
        await booking_service.create_shift(
            session=session,
            principal=world.admin if hospital_id is None else registry_service.SYSTEM,
            data=ShiftIn(
                hospital_id=hospital_id or world.hospital_id,
                department_code=department,
                doctor_id=doctor_id,
                local_date=start.date(),
                start_time=time(start.hour, start.minute),
                end_time=time(end.hour, end.minute),
                modes=["text", "video"],
                slot_minutes=30,
                capacity_per_slot=5,
                fee_fen=0,
            ),
            now=utcnow() - timedelta(hours=4),
        )


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


MakePatients = Callable[[int], Awaitable[list[PatientUser]]]


@pytest.fixture
def make_patients(db: Database, settings: Settings) -> MakePatients:
    async def make(count: int) -> list[PatientUser]:
        return await patients_for(db, settings, count)

    return make


async def confirmed_booking(
    db: Database,
    settings: Settings,
    world: World,
    patient: PatientUser,
    *,
    mode: str = "video",
    start: time = time(8),
) -> int:
    shift = await shift_for(
        db, world, capacity=5, start=start, end=time(start.hour + 1), modes=["text", "voice", "video"]
    )
    async with db.session() as session:
        held = await booking_service.book(
            session=session,
            settings=settings,
            principal=patient.principal,
            slot_id=shift.slots[0].id,
            patient_id=patient.patient_id,
            mode=mode,
        )
    async with db.session() as session:
        await booking_service.confirm(session=session, principal=patient.principal, appointment_id=held.id)
    return held.id


async def open_consultation(
    db: Database,
    settings: Settings,
    world: World,
    patient: PatientUser,
    *,
    status: Status = Status.waiting,
    mode: str = "video",
    start: time = time(8),
) -> ConsultationOut:
    """A consultation from a confirmed booking, moved on to the status asked for."""
    appointment_id = await confirmed_booking(db, settings, world, patient, mode=mode, start=start)
    async with db.session() as session:
        c = await service.open_from_appointment(
            session=session, principal=patient.principal, appointment_id=appointment_id
        )
    path = {
        Status.waiting: [],
        Status.in_progress: [Status.in_progress],
        Status.completed: [Status.in_progress, Status.completed],
        Status.cancelled: [Status.cancelled],
        Status.no_show: [Status.no_show],
    }[status]
    for target in path:
        async with db.session() as session:
            c = await service.move(
                session=session, principal=world.doctor, consultation_id=c.id, target=target
            )
    return c


@dataclass
class Live:
    """A real server on a free port, serving the test's app and database in the test's loop."""

    base: str
    ws: str
    app: Any
    blobs: MemoryBlobStore


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(settings: Settings, db: Database) -> AsyncIterator[Live]:
    """A real uvicorn server on a free port, serving an app on this database in the test's loop."""
    app = create_app(settings=settings, database=db)
    blobs = MemoryBlobStore()
    app.state.blobs = blobs
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield Live(base=f"http://127.0.0.1:{port}", ws=f"ws://127.0.0.1:{port}", app=app, blobs=blobs)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def live(settings: Settings, db: Database) -> AsyncIterator[Live]:
    async with serve(settings, db) as running:
        yield running


def bearer(settings: Settings, user: User) -> dict[str, str]:
    return token_headers(settings, user)


__all__ = [
    "DoctorUser",
    "Live",
    "PatientUser",
    "World",
    "add_doctor",
    "bearer",
    "confirmed_booking",
    "on_duty_now",
    "open_consultation",
]
