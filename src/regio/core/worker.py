"""Background loops (outbox delivery, timed jobs, audit sealing) in the server or a worker."""

from __future__ import annotations

import asyncio
import signal

from regio.config import Settings
from regio.core.db import Database


async def run_loops(*, db: Database, settings: Settings, stop: asyncio.Event) -> None:
    """Runs every background loop until `stop` is set."""
    await stop.wait()


async def run_until_signal(*, db: Database, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_loops(db=db, settings=settings, stop=stop)
    finally:
        await db.dispose()
