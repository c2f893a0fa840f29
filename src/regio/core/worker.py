"""Background loops (outbox delivery, timed jobs, audit sealing) in the server or a worker.

The same loops run inside `regio serve` by default and in any number of `regio worker`
processes at scale: every step claims its work through the database (sealer lock, outbox
leases, job leases), so several of them side by side never do one piece of work twice.
A step that raises is logged and the loop carries on at its next tick.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from regio.config import Settings
from regio.core import audit, jobs, outbox, webhooks
from regio.core.db import Database

log = logging.getLogger("regio.worker")

SEAL_BATCH = 1000
OUTBOX_BATCH = 50
JOBS_TICK_SECONDS = 1.0
RECEIPT_PRUNE_SECONDS = 3600.0
# The same failure every tick is logged in full once, then at most this often.
_REPEAT_LOG_SECONDS = 60.0

Step = Callable[[], Awaitable[bool]]


def register_builtin_jobs(registry: jobs.JobRegistry) -> None:
    """The housekeeping core itself needs: forgetting webhook receipts past the replay window."""
    registry.register("core.webhooks.prune_receipts", RECEIPT_PRUNE_SECONDS, webhooks.prune_receipts)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass


async def _loop(name: str, step: Step, *, interval: float, stop: asyncio.Event) -> None:
    """Calls `step` until stopped; straight again while it reports more work, else after `interval`."""
    last_error = ""
    last_logged = 0.0
    while not stop.is_set():
        busy = False
        try:
            busy = await step()
            last_error = ""
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if error != last_error or time.monotonic() - last_logged > _REPEAT_LOG_SECONDS:
                log.exception("background loop %s: step failed; carrying on", name)
                last_logged = time.monotonic()
            last_error = error
        if busy:
            await asyncio.sleep(0)  # let the other loops and the server breathe between batches
        else:
            await _pause(stop, interval)


async def run_loops(
    *,
    db: Database,
    settings: Settings,
    stop: asyncio.Event,
    transport: outbox.Transport | None = None,
    handlers: Mapping[str, Sequence[outbox.Handler]] | None = None,
    registry: jobs.JobRegistry | None = None,
    jobs_tick_seconds: float = JOBS_TICK_SECONDS,
) -> None:
    """Runs every background loop until `stop` is set."""
    job_registry = registry if registry is not None else jobs.default_registry
    register_builtin_jobs(job_registry)
    own_transport: outbox.HttpxTransport | None = None
    if transport is None:
        own_transport = transport = outbox.HttpxTransport()
    sender: outbox.Transport = transport

    async def seal_step() -> bool:
        return await audit.seal(db=db, settings=settings, batch_size=SEAL_BATCH) == SEAL_BATCH

    async def outbox_step() -> bool:
        claimed = await outbox.deliver_due(
            db=db, settings=settings, transport=sender, handlers=handlers, batch_size=OUTBOX_BATCH
        )
        return claimed == OUTBOX_BATCH

    async def jobs_step() -> bool:
        await jobs.run_due_jobs(db=db, settings=settings, registry=job_registry)
        return False

    try:
        await asyncio.gather(
            _loop("audit-sealer", seal_step, interval=settings.audit_seal_interval_seconds, stop=stop),
            _loop("outbox", outbox_step, interval=settings.outbox_poll_seconds, stop=stop),
            _loop("jobs", jobs_step, interval=jobs_tick_seconds, stop=stop),
        )
    finally:
        if own_transport is not None:
            await own_transport.aclose()


async def run_until_signal(*, db: Database, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started: audit sealer, outbox and timed jobs")
    try:
        await run_loops(db=db, settings=settings, stop=stop)
    finally:
        await db.dispose()
        log.info("worker stopped")
