"""The background worker: sealer, outbox and jobs loops together, surviving failures, safe side by side."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select, update

from regio.config import Settings
from regio.core import audit, outbox, worker
from regio.core.access import Principal
from regio.core.audit import AuditCheckpoint, AuditEntry
from regio.core.db import Database
from regio.core.jobs import JobRegistry
from regio.core.outbox import DELIVERED, MemoryTransport, Message, OutboxMessage

SOMEONE = Principal(user_id=3, username="someone")


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"audit_seal_interval_seconds": 0.02, "outbox_poll_seconds": 0.02})


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def write(db: Database, count: int, *, topic: str = "thing.happened") -> None:
    for number in range(count):
        async with db.sessionmaker() as session, session.begin():
            await audit.record(session, SOMEONE, "thing.do", object_type="thing", object_id=number)
            outbox.enqueue(session, topic, {"n": number})


async def all_sealed(db: Database) -> bool:
    async with db.sessionmaker() as session:
        return not (await session.execute(select(AuditEntry.id).where(AuditEntry.seq.is_(None)))).first()


async def tried(db: Database) -> bool:
    async with db.sessionmaker() as session:
        attempts = (await session.execute(select(OutboxMessage.attempts))).scalars().all()
    return bool(attempts) and min(attempts) >= 1


async def statuses(db: Database) -> Counter[str]:
    async with db.sessionmaker() as session:
        return Counter((await session.execute(select(OutboxMessage.status))).scalars())


def start(
    db: Database,
    settings: Settings,
    stop: asyncio.Event,
    handlers: dict[str, list[outbox.Handler]],
    registry: JobRegistry,
) -> asyncio.Task[None]:
    return asyncio.create_task(
        worker.run_loops(
            db=db,
            settings=settings,
            stop=stop,
            transport=MemoryTransport(),
            handlers=handlers,
            registry=registry,
            jobs_tick_seconds=0.02,
        )
    )


async def test_the_loops_seal_deliver_and_run_jobs_until_told_to_stop(db: Database, fast: Settings) -> None:
    got: list[int] = []

    async def handler(message: Message) -> None:
        got.append(message.id)

    ran = asyncio.Event()

    async def job(db: Database, settings: Settings) -> None:
        ran.set()

    registry = JobRegistry()
    registry.register("test.tick", 3600, job)
    stop = asyncio.Event()
    task = start(db, fast, stop, {"thing.happened": [handler]}, registry)
    await write(db, 5)
    await eventually(lambda: all_sealed(db))
    await eventually(lambda: asyncio.sleep(0, result=len(got) == 5))
    await asyncio.wait_for(ran.wait(), timeout=5)
    assert "core.webhooks.prune_receipts" in {job.name for job in registry.jobs()}
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    async with db.sessionmaker() as session:
        assert (await audit.verify(session=session, settings=fast)).ok


async def test_a_failing_loop_does_not_stop_the_others(db: Database, fast: Settings) -> None:
    # A forged checkpoint makes every sealing step fail; delivery and jobs must go on regardless.
    async with db.sessionmaker() as session, session.begin():
        await audit.record(session, SOMEONE, "thing.do", object_type="thing", object_id=0)
    await audit.seal(db=db, settings=fast)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(update(AuditCheckpoint).values(signature="0" * 64))

    got: list[int] = []

    async def handler(message: Message) -> None:
        if message.payload["n"] == 1:
            raise RuntimeError("this one message is poison")
        got.append(message.payload["n"])

    stop = asyncio.Event()
    task = start(db, fast, stop, {"thing.happened": [handler]}, JobRegistry())
    await write(db, 4)
    await eventually(lambda: asyncio.sleep(0, result=sorted(got) == [0, 2, 3]))
    await asyncio.sleep(0.2)  # several more failing ticks of the sealer
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert (await statuses(db))[DELIVERED] == 3
    assert not await all_sealed(db)  # nothing sealed on top of a forged head


async def test_two_workers_side_by_side_do_each_piece_of_work_once(db: Database, fast: Settings) -> None:
    got: list[int] = []
    job_runs = 0

    async def handler(message: Message) -> None:
        await asyncio.sleep(0)
        got.append(message.id)

    async def job(db: Database, settings: Settings) -> None:
        nonlocal job_runs
        job_runs += 1

    stop = asyncio.Event()
    tasks = []
    for _ in range(2):
        registry = JobRegistry()  # each process has its own registry of the same jobs
        registry.register("test.hourly", 3600, job)
        tasks.append(start(db, fast, stop, {"thing.happened": [handler]}, registry))
    await write(db, 40)
    await eventually(lambda: all_sealed(db))
    await eventually(lambda: asyncio.sleep(0, result=len(got) >= 40))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    assert sorted(Counter(got).values()) == [1] * 40
    assert job_runs == 1
    async with db.sessionmaker() as session:
        result = await audit.verify(session=session, settings=fast)
    assert result.ok and result.sealed == 40


async def test_regio_worker_runs_as_its_own_process_and_stops_on_sigterm(
    db: Database, settings: Settings
) -> None:
    await write(db, 3, topic="nobody.listens")
    env = dict(os.environ)
    env.update(
        REGIO_DATABASE_URL=settings.database_url,
        REGIO_SECRET_KEY=settings.secret_key,
        REGIO_DATA_KEY=settings.data_key,
        REGIO_WEBHOOK_SECRET=settings.webhook_secret,
        REGIO_ENVIRONMENT="test",
        REGIO_AUDIT_SEAL_INTERVAL_SECONDS="0.05",
        REGIO_OUTBOX_POLL_SECONDS="0.05",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "regio.cli", "worker", env=env, stderr=asyncio.subprocess.PIPE
    )

    async def sealed_and_tried() -> bool:
        return await all_sealed(db) and await tried(db)

    try:
        await eventually(sealed_and_tried, within=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, err.decode()
    async with db.sessionmaker() as session:
        assert (await audit.verify(session=session, settings=settings)).sealed == 3
