"""Audit append throughput: record() with N concurrent writers against a plain one-table INSERT, then sealing.

The point of appending freely and sealing in the background is that auditing costs a request
about what any INSERT costs; the ratio printed here says how close record() comes. Sealing and
verifying throughput show how far behind the chain can fall and how long `regio audit verify` takes.

    .venv/bin/python benchmarks/audit_append.py                # SQLite in a temporary file
    .venv/bin/python benchmarks/audit_append.py --quick        # a second or two, for CI
    .venv/bin/python benchmarks/audit_append.py --postgres postgresql+asyncpg://postgres@127.0.0.1/postgres
      (creates a scratch database next to the given one and drops it afterwards)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import JSON, BigInteger, Column, Integer, MetaData, String, Table, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from regio.config import Settings
from regio.core import audit
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Base, Database, UTCDateTime, utcnow

PRINCIPAL = Principal(
    user_id=101, username="dr.bench", grants=frozenset({RoleGrant(Role.doctor, ScopeKind.hospital, "1")})
)

_plain_metadata = MetaData()
PLAIN = Table(
    "bench_plain_inserts",
    _plain_metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("action", String(100), nullable=False),
    Column("object_type", String(60), nullable=False),
    Column("object_id", String(100)),
    Column("details", JSON, nullable=False),
)


async def create_tables(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(
            Base.metadata.create_all, tables=[audit.AuditEntry.__table__, audit.AuditCheckpoint.__table__]
        )
        await connection.run_sync(_plain_metadata.create_all)


async def timed_writers(writers: int, per_writer: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Runs `writers` concurrent loops of `per_writer` transactions each; returns operations per second."""

    async def loop(writer: int) -> None:
        for number in range(per_writer):
            await one(writer * per_writer + number)

    started = time.perf_counter()
    await asyncio.gather(*(loop(writer) for writer in range(writers)))
    return writers * per_writer / (time.perf_counter() - started)


async def run(db: Database, settings: Settings, writers: int, per_writer: int) -> None:
    await create_tables(db)

    async def plain_insert(number: int) -> None:
        async with db.sessionmaker() as session, session.begin():
            await session.execute(
                insert(PLAIN).values(
                    occurred_at=utcnow(),
                    action="patient.read",
                    object_type="patient",
                    object_id=str(number),
                    details={"n": number},
                )
            )

    async def audited(number: int) -> None:
        async with db.sessionmaker() as session, session.begin():
            await audit.record(
                session,
                PRINCIPAL,
                "patient.read",
                object_type="patient",
                object_id=number,
                details={"n": number},
            )

    # A short warm-up so connection set-up is not charged to whichever runs first.
    await timed_writers(writers, 2, plain_insert)
    await timed_writers(writers, 2, audited)
    baseline = await timed_writers(writers, per_writer, plain_insert)
    appends = await timed_writers(writers, per_writer, audited)
    total = writers * (per_writer + 2)

    started = time.perf_counter()
    sealed = await audit.seal_all(db=db, settings=settings)
    seal_seconds = time.perf_counter() - started

    started = time.perf_counter()
    async with db.sessionmaker() as session:
        result = await audit.verify(session=session, settings=settings)
    verify_seconds = time.perf_counter() - started
    if not result.ok or sealed != total:
        raise SystemExit(f"benchmark trail did not check out: sealed {sealed} of {total}, {result.problem}")

    print(f"backend: {db.engine.dialect.name}")
    print(f"writers: {writers} concurrent x {per_writer} transactions each")
    print(f"baseline plain INSERT: {baseline:,.0f} rows/s")
    print(f"audit record():        {appends:,.0f} entries/s")
    print(f"ratio record()/baseline: {appends / baseline:.2f}")
    print(f"sealing: {sealed} entries in {seal_seconds:.3f} s = {sealed / seal_seconds:,.0f} entries/s")
    print(
        f"verify:  {result.sealed} entries in {verify_seconds:.3f} s = "
        f"{result.sealed / verify_seconds:,.0f} entries/s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", type=int, default=16, help="concurrent writers (default 16)")
    parser.add_argument("--per-writer", type=int, default=250, help="transactions per writer (default 250)")
    parser.add_argument(
        "--postgres", metavar="URL", help="an asyncpg URL; a scratch database is made beside it"
    )
    parser.add_argument("--quick", action="store_true", help="a small run that takes a second or two")
    args = parser.parse_args()
    if args.quick:
        args.writers, args.per_writer = 4, 50
    settings = Settings(environment="test", secret_key="benchmark-" + "k" * 32, run_background=False)

    if args.postgres:
        name = f"regio_bench_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(args.postgres, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
        db = Database(url, pool_size=max(5, args.writers), max_overflow=0)
        try:
            await run(db, settings, args.writers, args.per_writer)
        finally:
            await db.dispose()
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
        return

    with tempfile.TemporaryDirectory(prefix="regio-bench-") as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}")
        try:
            await run(db, settings, args.writers, args.per_writer)
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
