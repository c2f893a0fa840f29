"""Timed jobs: one run per period however many workers race for it; failures and slow runs are contained."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from regio.config import Settings
from regio.core import jobs
from regio.core.db import Database, utcnow
from regio.core.jobs import JobLease, JobRegistry


class Counter:
    def __init__(self, error: Exception | None = None) -> None:
        self.runs = 0
        self.error = error

    async def __call__(self, db: Database, settings: Settings) -> None:
        self.runs += 1
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error


async def lease(db: Database, name: str) -> JobLease:
    async with db.sessionmaker() as session:
        return (await session.execute(select(JobLease).where(JobLease.name == name))).scalar_one()


async def race(
    db: Database, settings: Settings, registry: JobRegistry, now: datetime, workers: int = 6
) -> list[str]:
    results = await asyncio.gather(
        *(jobs.run_due_jobs(db=db, settings=settings, registry=registry, now=now) for _ in range(workers))
    )
    return [name for names in results for name in names]


async def test_racing_workers_run_a_job_once_per_period(db: Database, settings: Settings) -> None:
    registry = JobRegistry()
    counter = Counter()
    registry.register("holds.expire", 60, counter)
    start = utcnow()
    assert await race(db, settings, registry, start) == ["holds.expire"]
    assert await race(db, settings, registry, start + timedelta(seconds=59)) == []
    assert await race(db, settings, registry, start + timedelta(seconds=60)) == ["holds.expire"]
    assert counter.runs == 2
    row = await lease(db, "holds.expire")
    assert row.runs == 2 and row.next_run_at == start + timedelta(seconds=120)
    assert row.lease_token is None and row.last_finished_at is not None


async def test_jobs_keep_their_own_periods(db: Database, settings: Settings) -> None:
    registry = JobRegistry()
    fast, slow = Counter(), Counter()
    registry.register("fast", 10, fast)
    registry.register("slow", 100, slow)
    start = utcnow()
    for second in range(0, 101, 5):
        await race(db, settings, registry, start + timedelta(seconds=second), workers=3)
    assert (fast.runs, slow.runs) == (11, 2)


async def test_a_failing_job_is_recorded_and_runs_again_next_period(db: Database, settings: Settings) -> None:
    registry = JobRegistry()
    counter = Counter(error=ValueError("feed unreachable"))
    registry.register("feeds.pull", 30, counter)
    start = utcnow()
    assert await jobs.run_due_jobs(db=db, settings=settings, registry=registry, now=start) == ["feeds.pull"]
    row = await lease(db, "feeds.pull")
    assert (row.failures, row.last_error) == (1, "ValueError: feed unreachable")
    counter.error = None
    await jobs.run_due_jobs(db=db, settings=settings, registry=registry, now=start + timedelta(seconds=31))
    row = await lease(db, "feeds.pull")
    assert (counter.runs, row.failures, row.last_error) == (2, 1, None)


async def test_a_slow_run_is_not_overlapped_by_the_next_period(db: Database, settings: Settings) -> None:
    registry = JobRegistry()
    started, release = asyncio.Event(), asyncio.Event()
    runs = 0

    async def slow(db: Database, settings: Settings) -> None:
        nonlocal runs
        runs += 1
        started.set()
        await release.wait()

    registry.register("report.build", 10, slow, timeout_seconds=600)
    start = utcnow()
    first = asyncio.create_task(jobs.run_due_jobs(db=db, settings=settings, registry=registry, now=start))
    await asyncio.wait_for(started.wait(), timeout=5)
    later = start + timedelta(seconds=11)
    assert await jobs.run_due_jobs(db=db, settings=settings, registry=registry, now=later) == []
    release.set()
    assert await first == ["report.build"]
    assert await jobs.run_due_jobs(db=db, settings=settings, registry=registry, now=later) == ["report.build"]
    assert runs == 2


async def test_a_dead_workers_lease_expires(db: Database, settings: Settings) -> None:
    registry = JobRegistry()
    counter = Counter()
    registry.register("cleanup", 10, counter, timeout_seconds=60)
    start = utcnow()
    await jobs.run_due_jobs(db=db, settings=settings, registry=registry, now=start)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(JobLease)
            .where(JobLease.name == "cleanup")
            .values(lease_token="crashed", lease_expires_at=start + timedelta(seconds=70))
        )
    assert (
        await jobs.run_due_jobs(
            db=db, settings=settings, registry=registry, now=start + timedelta(seconds=65)
        )
        == []
    )
    assert await jobs.run_due_jobs(
        db=db, settings=settings, registry=registry, now=start + timedelta(seconds=71)
    ) == ["cleanup"]
    assert counter.runs == 2


async def test_a_run_past_its_timeout_is_cut_off_and_recorded(db: Database, settings: Settings) -> None:
    registry = JobRegistry()

    async def stuck(db: Database, settings: Settings) -> None:
        await asyncio.sleep(30)

    registry.register("stuck", 1, stuck, timeout_seconds=0.05)
    await asyncio.wait_for(jobs.run_due_jobs(db=db, settings=settings, registry=registry), timeout=5)
    row = await lease(db, "stuck")
    assert row.failures == 1 and (row.last_error or "").startswith("TimeoutError")
    assert row.lease_token is None


def test_a_job_needs_a_positive_period() -> None:
    with pytest.raises(ValueError):
        JobRegistry().register("never", 0, Counter())


def test_registering_a_name_again_replaces_the_job() -> None:
    registry = JobRegistry()
    first, second = Counter(), Counter()
    registry.register("same", 10, first)
    registry.register("same", 20, second)
    [job] = registry.jobs()
    assert (job.fn, job.every_seconds) == (second, 20)


def test_the_process_wide_register_uses_the_default_registry() -> None:
    counter = Counter()
    try:
        job = jobs.register("test.default-registry", 5, counter)
        assert job in jobs.default_registry.jobs()
    finally:
        jobs.default_registry.unregister("test.default-registry")
