"""Slot-release stampede against the real server: exactly the capacity is booked, and how fast.

    python benchmarks/booking_stampede.py [--db sqlite|postgresql] [--database-url URL]
                                          [--patients N] [--concurrency C] [--quick]

Starts uvicorn on a fresh database of the chosen kind, seeds hospitals, doctors, N patients with
accounts and the slots, signs the access tokens (before any timing), then runs:
  1. the stampede: N patients, at most C requests in flight, race for K slots of capacity 1;
  2. the cold workload: each patient books one slot chosen at random among 10,000;
  3. the baseline: the same booking transaction straight on the database (asyncpg / sqlite3, no
     HTTP, no ORM) at the same concurrency.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from regio.care.booking import service as booking_service  # noqa: E402
from regio.care.booking.schemas import ShiftIn  # noqa: E402
from regio.care.patients import service as patients_service  # noqa: E402
from regio.care.patients.idnumber import check_character  # noqa: E402
from regio.care.registry import service as registry_service  # noqa: E402
from regio.care.registry.schemas import DoctorIn, HospitalIn  # noqa: E402
from regio.cli import upgrade_database  # noqa: E402
from regio.config import Settings  # noqa: E402
from regio.core.access import Principal, Role, RoleGrant, ScopeKind  # noqa: E402
from regio.core.db import Database  # noqa: E402
from regio.core.identity import passwords, tokens  # noqa: E402
from regio.core.identity import service as identity_service  # noqa: E402

SECRET = "bench-secret-key-" + "s" * 40
DATA_KEY = "bench-data-key-" + "d" * 40
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Person:
    user_id: int
    patient_id: int
    token: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _id_number(n: int) -> str:
    born = datetime(1950, 1, 1) + timedelta(days=n % 20000)
    first17 = f"330106{born:%Y%m%d}{n % 100:02d}{n % 10}"
    return first17 + check_character(first17)


def _fresh_database(kind: str, url: str | None, folder: Path) -> tuple[str, object]:
    """A new, empty database; returns its URL and what to clean up afterwards."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}", None
    base = make_url(url or os.environ.get("REGIO_TEST_DATABASE_URL") or DEFAULT_PG)
    name = f"regio_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False), (
        admin,
        name,
    )


def _drop(cleanup: object) -> None:
    if cleanup is None:
        return
    admin, name = cleanup  # type: ignore[misc]
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


async def _seed(
    url: str, settings: Settings, *, patients: int, stampede_slots: int, cold_slots: int
) -> tuple[list[Person], list[int], list[int]]:
    db = Database(url)
    system = registry_service.SYSTEM
    today = registry_service.today()
    try:
        async with db.session() as session:
            hospital = await registry_service.create_hospital(
                session=session,
                principal=system,
                data=HospitalIn(
                    name="压测医院",
                    level="三级甲等",
                    city_adcode="330100",
                    licence_no=f"BENCH-{uuid.uuid4().hex[:6]}",
                    licence_valid_from=today - timedelta(days=30),
                    licence_valid_to=today + timedelta(days=365),
                    department_codes=["respiratory"],
                ),
            )
        admin = Principal(
            user_id=None,
            username="bench-admin",
            grants=frozenset({RoleGrant(Role.platform_admin)}),
        )
        per_shift = 40  # 15-minute slots, 00:00–10:00
        days = 10
        doctors_needed = 1 + max(1, -(-cold_slots // (per_shift * days)))
        doctor_ids = []
        for n in range(doctors_needed):
            async with db.session() as session:
                doctor = await registry_service.create_doctor(
                    session=session,
                    principal=system,
                    data=DoctorIn(
                        real_name=f"压测医生{n}",
                        licence_no=f"BENCH-D-{uuid.uuid4().hex[:10]}",
                        title="主治医师",
                        independent_practice_since=today - timedelta(days=3650),
                        real_name_verified=True,
                        hospital_id=hospital.id,
                        department_codes=["respiratory"],
                    ),
                )
            doctor_ids.append(doctor.id)

        async def shift(doctor_id: int, day_offset: int, slots: int, capacity: int) -> list[int]:
            end_minutes = 15 * slots
            async with db.session() as session:
                made = await booking_service.create_shift(
                    session=session,
                    principal=admin,
                    data=ShiftIn(
                        hospital_id=hospital.id,
                        department_code="respiratory",
                        doctor_id=doctor_id,
                        local_date=today + timedelta(days=day_offset),
                        start_time=clock(0),
                        end_time=clock(end_minutes // 60, end_minutes % 60),
                        modes=["text"],
                        slot_minutes=15,
                        capacity_per_slot=capacity,
                    ),
                )
            return [slot.id for slot in made.slots]

        stampede = await shift(doctor_ids[0], 1, stampede_slots, 1)
        cold: list[int] = []
        for doctor_id in doctor_ids[1:]:
            for day in range(1, days + 1):
                if len(cold) < cold_slots:
                    cold += await shift(doctor_id, day, min(per_shift, cold_slots - len(cold)), 5)

        password_hash = await passwords.hash_password("bench-password-1")
        people: list[Person] = []
        grant = RoleGrant(Role.patient, ScopeKind.platform, "")
        for n in range(patients):
            async with db.session() as session:
                user = await identity_service.create_user_with_hash(
                    session=session,
                    username=f"bench{n}-{uuid.uuid4().hex[:6]}",
                    password_hash=password_hash,
                    display_name=f"患者{n}",
                    grants=[grant],
                )
                principal = Principal(user_id=user.id, username=user.username, grants=frozenset({grant}))
                answer = await patients_service.register_patient(
                    session=session,
                    settings=settings,
                    principal=principal,
                    name=f"患者{n}",
                    id_number=_id_number(n),
                    phone="13800000000",
                )
            token = tokens.issue_access_token(
                secret_key=SECRET, subject=f"u:{user.id}", now=int(time.time()), ttl_seconds=7200
            )
            people.append(Person(user_id=user.id, patient_id=answer.patient.id, token=token))
        return people, stampede, cold
    finally:
        await db.dispose()


def _start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REGIO_DATABASE_URL": url,
        "REGIO_ENVIRONMENT": "test",
        "REGIO_SECRET_KEY": SECRET,
        "REGIO_DATA_KEY": DATA_KEY,
        "PYTHONPATH": str(ROOT / "src"),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "regio.app:create_app",
        "--factory",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        # Access lines are masked when on (core.masking); off here, they would only measure logging.
        "--no-access-log",
        "--http",
        "httptools",
        "--backlog",
        "2048",
        # A queued client may wait a while between answers; the connection should not close meanwhile.
        "--timeout-keep-alive",
        "60",
    ]
    if importlib.util.find_spec("uvloop") is not None:
        command += ["--loop", "uvloop"]
    server = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("server did not start:\n" + log.read_text(errors="replace")[-3000:])


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends a request and reads the whole answer.

    The load generator shares this 2-core machine with the server, so it must cost far less per
    request than the server does: httpx's pool spent about 9 ms of CPU per request at 200
    connections, which capped every run near 50 requests/s whatever the server did, and left
    connections idle past uvicorn's keep-alive timeout, so the server closed them under the
    client's feet (the httpx.ReadError seen at full size).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def _booking_request(host: str, port: int, person: Person, slot_id: int) -> bytes:
    body = json.dumps({"slot_id": slot_id, "patient_id": person.patient_id}).encode()
    return (
        f"POST /api/care/appointments HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {person.token}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _fire(
    host: str, port: int, people: list[Person], choose: list[int], concurrency: int
) -> tuple[list[int], list[float], float]:
    """Each person books choose[i], at most `concurrency` at once; returns statuses, latencies (s), wall time.

    A closed loop: `concurrency` clients, each on its own keep-alive connection, take the next
    person as soon as their previous answer is in. Requests are built before timing starts.
    """
    requests = [_booking_request(host, port, people[i], choose[i]) for i in range(len(people))]
    statuses: list[int] = [0] * len(people)
    latencies: list[float] = [0.0] * len(people)
    queue = iter(range(len(people)))

    async def client() -> None:
        connection = _Connection(host, port)
        try:
            for index in queue:
                started = time.perf_counter()
                try:
                    statuses[index] = await connection.request(requests[index])
                except (OSError, asyncio.IncompleteReadError):
                    statuses[index] = -1  # counted among the unexpected statuses, never retried
                    await connection.close()
                latencies[index] = time.perf_counter() - started
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(min(concurrency, len(people)))))
    wall = time.perf_counter() - started
    return statuses, latencies, wall


BOOK_SQL_PG = (
    "UPDATE booking_slots SET booked = booked + 1, version = version + 1 "
    "WHERE id = $1 AND status = 'open' AND booked < capacity + extra "
    "RETURNING doctor_id, hospital_id, local_date"
)
INSERT_SQL_PG = (
    "INSERT INTO booking_appointments (slot_id, patient_id, booked_by_user_id, doctor_id, hospital_id, "
    "local_date, day_seat, mode, status, hold_expires_at, is_extra, via_waitlist, version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, 1, 'text', 'held', $7, false, false, 1, $8, $8) "
    "ON CONFLICT (patient_id, doctor_id, local_date, day_seat) WHERE status IN ('held', 'confirmed') "
    "DO NOTHING RETURNING id"
)


async def _baseline_pg(url: str, people: list[Person], choose: list[int], concurrency: int) -> float:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool = await asyncpg.create_pool(dsn, min_size=min(concurrency, 20), max_size=min(concurrency, 50))
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate, pool.acquire() as connection:
            now = datetime.now(UTC)
            transaction = connection.transaction()
            await transaction.start()
            row = await connection.fetchrow(BOOK_SQL_PG, choose[index])
            if row is None:
                await transaction.rollback()
                return
            person = people[index]
            made = await connection.fetchval(
                INSERT_SQL_PG,
                choose[index],
                person.patient_id,
                person.user_id,
                row["doctor_id"],
                row["hospital_id"],
                row["local_date"],
                now + timedelta(minutes=15),
                now,
            )
            if made is None:
                await transaction.rollback()
            else:
                await transaction.commit()

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(len(people))))
    wall = time.perf_counter() - started
    await pool.close()
    return len(people) / wall


def _baseline_sqlite(path: str, people: list[Person], choose: list[int], concurrency: int) -> float:
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            local.db.execute("PRAGMA busy_timeout=30000")
            local.db.execute("PRAGMA synchronous=NORMAL")
        return local.db  # type: ignore[no-any-return]

    writer = threading.Lock()  # one writer at a time, queued in-process, as the server does

    def one(index: int) -> None:
        with writer:
            try:
                book(index)
            except Exception:
                connection().execute("ROLLBACK")
                raise

    def book(index: int) -> None:
        db = connection()
        now = datetime.now(UTC).replace(tzinfo=None)
        db.execute("BEGIN IMMEDIATE")
        row = db.execute(
            BOOK_SQL_PG.replace("$1", "?"),
            (choose[index],),
        ).fetchone()
        if row is None:
            db.execute("ROLLBACK")
            return
        person = people[index]
        sql = INSERT_SQL_PG
        for n in range(8, 0, -1):
            sql = sql.replace(f"${n}", "?")
        made = db.execute(
            sql.replace("false", "0"),
            (
                choose[index],
                person.patient_id,
                person.user_id,
                row[0],
                row[1],
                row[2],
                now + timedelta(minutes=15),
                now,
                now,
            ),
        ).fetchone()
        db.execute("COMMIT" if made else "ROLLBACK")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(len(people))))
    return len(people) / (time.perf_counter() - started)


async def _overbooked(url: str, slot_ids: list[int]) -> tuple[int, int]:
    """(places given beyond capacity + extra, active bookings) over the given slots, counted from rows."""
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT s.id, s.capacity + s.extra AS places, "
                        "(SELECT count(*) FROM booking_appointments a WHERE a.slot_id = s.id "
                        "AND a.status IN ('held', 'confirmed')) AS active FROM booking_slots s"
                    )
                )
            ).all()
    finally:
        await db.dispose()
    wanted = set(slot_ids)
    over = sum(max(0, row.active - row.places) for row in rows if row.id in wanted)
    active = sum(row.active for row in rows if row.id in wanted)
    return over, active


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL server to create the fresh database on"
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--slots", type=int, default=20, help="stampede slots (capacity 1 each)")
    parser.add_argument("--cold-slots", type=int, default=10_000)
    parser.add_argument(
        "--workers", type=int, default=None, help="uvicorn workers (default: 1 SQLite, 2 PostgreSQL)"
    )
    parser.add_argument("--quick", action="store_true", help="a small run that finishes in seconds")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.concurrency, args.slots, args.cold_slots = 120, 40, 10, 800
    workers = args.workers or (1 if args.db == "sqlite" else 2)

    folder = Path(tempfile.mkdtemp(prefix="regio-bench-"))
    url, cleanup = _fresh_database(args.db, args.database_url, folder)
    server = None
    try:
        upgrade_database(url)
        settings = Settings(environment="test", database_url=url, secret_key=SECRET, data_key=DATA_KEY)
        seeded_at = time.perf_counter()
        people, stampede_slots, cold_slots = asyncio.run(
            _seed(
                url, settings, patients=args.patients, stampede_slots=args.slots, cold_slots=args.cold_slots
            )
        )
        print(
            f"seeded {len(people)} patients, {len(stampede_slots)} + {len(cold_slots)} slots "
            f"in {time.perf_counter() - seeded_at:.1f} s ({args.db})"
        )
        port = _free_port()
        server = _start_server(url, port, workers, folder / "server.log")
        rng = random.Random(20261201)

        statuses, _, stampede_s = asyncio.run(
            _fire("127.0.0.1", port, people, [rng.choice(stampede_slots) for _ in people], args.concurrency)
        )
        successes = statuses.count(201)
        unexpected = [s for s in statuses if s not in (201, 409)]
        overbooked, active = asyncio.run(_overbooked(url, stampede_slots))
        print(
            f"stampede: {len(people)} attempts, {successes} booked, capacity {len(stampede_slots)}, "
            f"overbooked {overbooked}, {stampede_s:.2f} s, other statuses {sorted(set(unexpected))}"
        )

        cold_statuses, latencies, cold_s = asyncio.run(
            _fire("127.0.0.1", port, people, [rng.choice(cold_slots) for _ in people], args.concurrency)
        )
        rps = len(people) / cold_s
        print(
            f"cold: {len(people)} bookings over {len(cold_slots)} slots, {cold_statuses.count(201)} booked, "
            f"{rps:.0f} req/s, p50 {_percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {_percentile(latencies, 0.99) * 1000:.1f} ms"
        )
        server.terminate()
        server.wait(timeout=30)
        server = None

        choose = [rng.choice(cold_slots) for _ in people]
        if args.db == "postgresql":
            baseline = asyncio.run(_baseline_pg(url, people, choose, args.concurrency))
        else:
            baseline = _baseline_sqlite(str(folder / "bench.sqlite3"), people, choose, args.concurrency)
        print(
            f"baseline (raw {'asyncpg' if args.db == 'postgresql' else 'sqlite3'}): {baseline:.0f} bookings/s"
        )
        cold_over, _ = asyncio.run(_overbooked(url, cold_slots))
        result = {
            "db": args.db,
            "attempts": len(people),
            "successes": successes,
            "capacity": len(stampede_slots),
            "active_bookings": active,
            "overbooked": overbooked + cold_over,
            "unexpected_statuses": len(unexpected) + sum(1 for s in cold_statuses if s not in (201, 409)),
            "stampede_s": round(stampede_s, 3),
            "rps": round(rps, 1),
            "p50_ms": round(_percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
            "baseline_rps": round(baseline, 1),
            "ratio": round(rps / baseline, 3),
            "concurrency": args.concurrency,
            "workers": workers,
            "cold_slots": len(cold_slots),
            "median_latency_ms": round(statistics.median(latencies) * 1000, 2),
        }
        print(json.dumps(result))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        _drop(cleanup)


if __name__ == "__main__":
    main()
