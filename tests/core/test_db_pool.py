"""The connection pool serves waiting requests first come, first served, and never loses a connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from regio.core.db import FairAsyncQueuePool, _FairQueue, make_engine


async def test_a_returned_connection_goes_to_the_longest_waiter_not_to_a_newcomer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.sqlite3'}", pool_size=1)
    assert isinstance(engine.pool, FairAsyncQueuePool)
    served: list[str] = []

    async def use(name: str) -> None:
        async with engine.connect():
            served.append(name)
            await asyncio.sleep(0.01)

    try:
        holder: AsyncConnection = await engine.connect()
        waiting = []
        for n in range(5):
            waiting.append(asyncio.create_task(use(f"waiter{n}")))
            await asyncio.sleep(0.01)  # each starts waiting before the next arrives
        await holder.close()
        # arrives just as the connection comes back, before the first waiter has run again
        newcomer = asyncio.create_task(use("newcomer"))
        await asyncio.gather(*waiting, newcomer)
    finally:
        await engine.dispose()
    assert served == ["waiter0", "waiter1", "waiter2", "waiter3", "waiter4", "newcomer"]


async def test_a_connection_put_back_while_someone_waits_is_not_taken_by_a_newcomer() -> None:
    queue = _FairQueue(maxsize=2)
    waiter = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    await asyncio.sleep(0.01)

    async def finish_one_request_and_start_another() -> object:
        # one request hands its connection back and, in the same step, a new one asks for one:
        # SQLAlchemy's own asyncio queue gives it to the newcomer and sends the waiter to the back
        queue.put_nowait("connection")
        return await greenlet_spawn(queue.get, True, 5.0)

    newcomer = asyncio.create_task(finish_one_request_and_start_another())
    assert await asyncio.wait_for(waiter, 1) == "connection"
    await asyncio.sleep(0.01)
    assert not newcomer.done()
    queue.put_nowait("another")
    assert await asyncio.wait_for(newcomer, 1) == "another"


async def test_a_waiter_cancelled_after_it_was_handed_a_connection_passes_it_on() -> None:
    queue = _FairQueue(maxsize=2)
    first = asyncio.create_task(greenlet_spawn(queue.get, True, None))
    second = asyncio.create_task(greenlet_spawn(queue.get, True, None))
    await asyncio.sleep(0.01)
    queue.put_nowait("connection")  # handed to the first waiter...
    first.cancel()  # ...whose request is cancelled before it could use it
    assert await asyncio.wait_for(second, 1) == "connection"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert queue.qsize() == 0


async def test_with_a_timeout_a_cancelled_waiter_still_never_loses_a_connection() -> None:
    queue = _FairQueue(maxsize=2)
    first = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    second = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    await asyncio.sleep(0.01)
    queue.put_nowait("connection")
    first.cancel()
    done, _ = await asyncio.wait({first, second}, timeout=0.5)
    # Python 3.11's wait_for may finish the handed-over get despite the cancel; either way the
    # connection is held by exactly one of them, never dropped.
    holders = [task.result() for task in done if not task.cancelled()]
    assert holders == ["connection"]
    second.cancel()


async def test_waiting_longer_than_the_timeout_is_empty_not_a_hang() -> None:
    queue = _FairQueue(maxsize=1)
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.05)
    queue.put_nowait("connection")  # the timed-out waiter is not handed anything any more
    assert queue.get_nowait() == "connection"


def test_postgresql_connections_are_not_pinged_before_every_request() -> None:
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=3)
    assert engine.pool._pre_ping is False  # type: ignore[attr-defined]
    assert isinstance(engine.pool, FairAsyncQueuePool)
