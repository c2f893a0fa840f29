"""Timed jobs: `register(name, every_seconds, fn)`, run once per period however many workers there are.

Each job has a lease row. A worker runs a job only after winning a conditional UPDATE that moves
the row's `next_run_at` one period on and takes the lease: every other worker's UPDATE then
matches nothing, so each period's run happens once. The lease also keeps a slow run from
overlapping the next one; a worker that dies mid-run leaves a lease that simply expires.
Times come from each worker's clock, so workers on different machines need NTP.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Text, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from regio.config import Settings
from regio.core.db import Base, Database, UTCDateTime, utcnow

log = logging.getLogger("regio.jobs")

JobFunction = Callable[[Database, Settings], Awaitable[None]]
_ERROR_LIMIT = 2000


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lease_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    runs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_seconds: float
    fn: JobFunction
    timeout_seconds: float


class JobRegistry:
    """Named jobs; the module keeps one for the process, tests make their own."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(
        self, name: str, every_seconds: float, fn: JobFunction, *, timeout_seconds: float | None = None
    ) -> Job:
        """Adds (or replaces, so re-imports are harmless) a job run every `every_seconds`."""
        if every_seconds <= 0:
            raise ValueError("every_seconds must be positive")
        job = Job(
            name=name[:100],
            every_seconds=float(every_seconds),
            fn=fn,
            timeout_seconds=float(timeout_seconds or max(60.0, every_seconds)),
        )
        self._jobs[job.name] = job
        return job

    def unregister(self, name: str) -> None:
        self._jobs.pop(name, None)

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())


default_registry = JobRegistry()


def register(
    name: str, every_seconds: float, fn: JobFunction, *, timeout_seconds: float | None = None
) -> Job:
    """Registers a timed job `async fn(db, settings)` in the process-wide registry."""
    return default_registry.register(name, every_seconds, fn, timeout_seconds=timeout_seconds)


async def _ensure_rows(db: Database, jobs: list[Job], now: datetime) -> None:
    async with db.sessionmaker() as session, session.begin():
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        # A new job is due at once; an existing row keeps its schedule.
        await session.execute(
            insert(JobLease)
            .values([{"name": job.name, "next_run_at": now, "runs": 0, "failures": 0} for job in jobs])
            .on_conflict_do_nothing(index_elements=["name"])
        )


async def _claim(db: Database, job: Job, token: str, now: datetime) -> bool:
    async with db.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(JobLease)
            .where(
                JobLease.name == job.name,
                JobLease.next_run_at <= now,
                or_(JobLease.lease_expires_at.is_(None), JobLease.lease_expires_at <= now),
            )
            .values(
                next_run_at=now + timedelta(seconds=job.every_seconds),
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=job.timeout_seconds),
                last_started_at=now,
                runs=JobLease.runs + 1,
            )
        )
    return bool(getattr(result, "rowcount", 0))


async def _finish(db: Database, job: Job, token: str, error: str | None) -> None:
    values: dict[str, object] = {
        "lease_token": None,
        "lease_expires_at": None,
        "last_finished_at": utcnow(),
        "last_error": error[:_ERROR_LIMIT] if error else None,
    }
    if error:
        values["failures"] = JobLease.failures + 1
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(JobLease).where(JobLease.name == job.name, JobLease.lease_token == token).values(**values)
        )


async def _run(db: Database, settings: Settings, job: Job, token: str) -> None:
    error: str | None = None
    try:
        await asyncio.wait_for(job.fn(db, settings), timeout=job.timeout_seconds)
    except Exception as exc:
        # A failing job is logged and tried again next period; it must not take the loop down.
        error = f"{type(exc).__name__}: {exc}"
        log.exception("job %s failed", job.name)
    await _finish(db, job, token, error)


async def run_due_jobs(
    *, db: Database, settings: Settings, registry: JobRegistry | None = None, now: datetime | None = None
) -> list[str]:
    """Runs every registered job whose period has come and that this worker wins; returns their names."""
    jobs = (registry if registry is not None else default_registry).jobs()
    if not jobs:
        return []
    now = now or utcnow()
    await _ensure_rows(db, jobs, now)
    token = uuid.uuid4().hex
    won = [job for job in jobs if await _claim(db, job, token, now)]
    await asyncio.gather(*(_run(db, settings, job, token) for job in won))
    return [job.name for job in won]
