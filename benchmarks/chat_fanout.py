"""Chat fan-out through the real server: many open consultations, each with its patient and doctor
connected by WebSocket, exchanging messages; the same load through a bare relay as the baseline.

    python benchmarks/chat_fanout.py [--db sqlite|postgresql] [--database-url URL]
                                     [--consultations N] [--rate MSGS_PER_S] [--seconds S] [--quick]

Starts uvicorn on a fresh database of the chosen kind, seeds a hospital, doctors and patients with
accounts and N consultations in progress, signs the access tokens, connects 2 × N sockets, then
sends messages at a steady overall rate, each from one side of a random consultation, and times
each from send to its arrival at the other side. Regio stores every message (sequence number,
audit entry) before publishing it. The baseline is a bare Starlette WebSocket relay (no storage,
no auth) served the same way, under the same load, in the same run.
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
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SECRET = "bench-secret-key-" + "s" * 40
DATA_KEY = "bench-data-key-" + "d" * 40
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


# ---- the baseline: a bare relay --------------------------------------------------------------------


def baseline_app() -> Any:
    """A Starlette app that relays each text frame to the other sockets of the same room, and no more."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    rooms: dict[str, set[WebSocket]] = {}

    async def relay(websocket: WebSocket) -> None:
        room = websocket.path_params["room"]
        await websocket.accept()
        members = rooms.setdefault(room, set())
        members.add(websocket)
        try:
            while True:
                message = await websocket.receive_text()
                for other in tuple(members):
                    if other is not websocket:
                        await other.send_text(message)
        except WebSocketDisconnect:
            pass
        finally:
            members.discard(websocket)

    async def healthz(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[WebSocketRoute("/relay/{room}", relay), Route("/healthz", healthz)])


# ---- seeding ---------------------------------------------------------------------------------------


@dataclass
class Room:
    consultation_id: int
    patient_token: str
    doctor_token: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _id_number(n: int) -> str:
    from datetime import datetime

    from regio.care.patients.idnumber import check_character

    born = datetime(1950, 1, 1) + timedelta(days=n % 20000)
    first17 = f"330106{born:%Y%m%d}{n % 100:02d}{n % 10}"
    return first17 + check_character(first17)


def _fresh_database(kind: str, url: str | None, folder: Path) -> tuple[str, object]:
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


async def _seed(url: str, consultations: int, per_doctor: int) -> list[Room]:
    from regio.care.consultation.models import Consultation
    from regio.care.patients import service as patients_service
    from regio.care.registry import service as registry_service
    from regio.care.registry.schemas import DoctorIn, HospitalIn
    from regio.config import Settings
    from regio.core.access import Principal, Role, RoleGrant, ScopeKind
    from regio.core.db import Database, utcnow
    from regio.core.identity import passwords, tokens
    from regio.core.identity import service as identity_service

    settings = Settings(environment="test", database_url=url, secret_key=SECRET, data_key=DATA_KEY)
    db = Database(url)
    system = registry_service.SYSTEM
    today = registry_service.today()
    now = int(time.time())

    def token(user_id: int) -> str:
        return tokens.issue_access_token(secret_key=SECRET, subject=f"u:{user_id}", now=now, ttl_seconds=7200)

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
        password_hash = await passwords.hash_password("bench-password-1")
        doctors: list[tuple[int, str]] = []
        for n in range(-(-consultations // per_doctor)):
            grant = RoleGrant(Role.doctor, ScopeKind.hospital, str(hospital.id))
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
                user = await identity_service.create_user_with_hash(
                    session=session,
                    username=f"benchdoc{n}-{uuid.uuid4().hex[:6]}",
                    password_hash=password_hash,
                    display_name=f"医生{n}",
                    grants=[grant],
                )
                await registry_service.link_doctor_user(
                    session=session, principal=system, doctor_id=doctor.id, user_id=user.id
                )
            doctors.append((doctor.id, token(user.id)))
        rooms: list[Room] = []
        grant = RoleGrant(Role.patient, ScopeKind.platform, "")
        for n in range(consultations):
            async with db.session() as session:
                user = await identity_service.create_user_with_hash(
                    session=session,
                    username=f"benchpat{n}-{uuid.uuid4().hex[:6]}",
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
            doctor_id, doctor_token = doctors[n // per_doctor]
            # A consultation already in progress: the benchmark is about the chat, not how it began.
            async with db.session() as session, session.begin():
                row = Consultation(
                    patient_id=answer.patient.id,
                    requester_user_id=user.id,
                    doctor_id=doctor_id,
                    hospital_id=hospital.id,
                    department_code="respiratory",
                    mode="text",
                    source="quick_question",
                    status="in_progress",
                    urgency="routine",
                    scheduled_at=utcnow(),
                    complaint="",
                    created_at=utcnow(),
                    started_at=utcnow(),
                )
                session.add(row)
                await session.flush()
                rooms.append(Room(row.id, token(user.id), doctor_token))
        return rooms
    finally:
        await db.dispose()


# ---- servers ---------------------------------------------------------------------------------------


def _start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
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


def _uvicorn_flags(port: int) -> list[str]:
    flags = ["--port", str(port), "--log-level", "warning", "--no-access-log", "--http", "httptools"]
    flags += ["--backlog", "2048", "--ws-ping-interval", "60", "--ws-ping-timeout", "60"]
    if importlib.util.find_spec("uvloop") is not None:
        flags += ["--loop", "uvloop"]
    return flags


def _start_regio(url: str, port: int, log: Path, pool: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REGIO_DATABASE_URL": url,
        "REGIO_ENVIRONMENT": "test",
        "REGIO_SECRET_KEY": SECRET,
        "REGIO_DATA_KEY": DATA_KEY,
        "REGIO_DATABASE_POOL_SIZE": str(pool),
        "PYTHONPATH": str(ROOT / "src"),
    }
    command = [sys.executable, "-m", "uvicorn", "regio.app:create_app", "--factory", *_uvicorn_flags(port)]
    return _start(command, env, port, log)


def _start_baseline(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'benchmarks'}{os.pathsep}{ROOT / 'src'}"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "chat_fanout:baseline_app",
        "--factory",
        *_uvicorn_flags(port),
    ]
    return _start(command, env, port, log)


# ---- load ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: dict[str, float] = field(default_factory=dict)  # client id -> perf_counter at send
    latencies: list[float] = field(default_factory=list)
    received: set[str] = field(default_factory=set)
    duplicates: int = 0
    sending_done: bool = False
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    def check_done(self) -> None:
        if self.sending_done and len(self.received) >= len(self.sent):
            self.all_in.set()


async def _run_load(
    urls: list[tuple[str, str, list[str]]],
    *,
    rate: float,
    seconds: float,
    regio: bool,
    seed: int,
) -> Tally:
    """urls: per room, the two sides' socket URLs and subprotocols. Messages go from one side, are timed at the other."""
    from websockets.asyncio.client import connect

    tally = Tally()
    sockets: list[list[Any]] = []
    gate = asyncio.Semaphore(20)

    async def open_socket(url: str, protocols: list[str]) -> Any:
        async with gate:
            ws = await connect(
                url,
                subprotocols=protocols or None,
                max_size=2**20,
                ping_interval=None,
                open_timeout=120,  # type: ignore[arg-type]
            )
            if regio:
                await ws.recv()  # hello
            return ws

    opening = time.perf_counter()
    opened = await asyncio.gather(
        *(
            open_socket(url, protocols)
            for pair in urls
            for url, protocols in [(pair[0], pair[2]), (pair[1], pair[2])]
        )
    )
    for index in range(len(urls)):
        sockets.append([opened[2 * index], opened[2 * index + 1]])
    print(f"  {len(opened)} sockets open in {time.perf_counter() - opening:.1f} s")

    def on_frame(raw: str | bytes, receiver_side: int) -> None:
        now = time.perf_counter()
        frame = json.loads(raw)
        if regio and frame.get("type") != "message":
            return
        cid = frame.get("client_msg_id") or ""
        if not cid or cid.split(":")[1] == str(receiver_side):
            return  # the sender hearing its own message back
        started = tally.sent.get(cid)
        if started is None:
            return
        if cid in tally.received:
            tally.duplicates += 1
            return
        tally.received.add(cid)
        tally.latencies.append(now - started)
        tally.check_done()

    async def reader(ws: Any, side: int) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                on_frame(raw, side)

    readers = [asyncio.create_task(reader(ws, side)) for pair in sockets for side, ws in enumerate(pair)]
    rng = random.Random(seed)
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        due = started + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        room = rng.randrange(len(sockets))
        side = rng.randrange(2)
        cid = f"m{n}:{side}"
        body = (
            {"type": "message", "body": f"消息 {n}", "client_msg_id": cid}
            if regio
            else {"client_msg_id": cid}
        )
        tally.sent[cid] = time.perf_counter()
        await sockets[room][side].send(json.dumps(body, ensure_ascii=False))
    # Stragglers: wait until everything arrived or a few seconds passed.
    tally.sending_done = True
    tally.check_done()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.all_in.wait(), 10)
    for task in readers:
        task.cancel()
    for pair in sockets:
        for ws in pair:
            with contextlib.suppress(Exception):
                await ws.close()
    await asyncio.gather(*readers, return_exceptions=True)
    return tally


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _stored(url: str) -> int:
    from regio.core.db import Database

    db = Database(url)
    try:
        async with db.session() as session:
            return int(
                (await session.execute(text("SELECT count(*) FROM consultation_messages"))).scalar_one()
            )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL server to create the fresh database on"
    )
    parser.add_argument("--consultations", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second, overall")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pool", type=int, default=20, help="REGIO_DATABASE_POOL_SIZE of the server")
    parser.add_argument("--quick", action="store_true", help="a small run that finishes in seconds")
    args = parser.parse_args()
    if args.quick:
        args.consultations, args.rate, args.seconds = 20, 20.0, 3.0

    from regio.cli import upgrade_database

    folder = Path(tempfile.mkdtemp(prefix="regio-chat-bench-"))
    url, cleanup = _fresh_database(args.db, args.database_url, folder)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        upgrade_database(url)
        seeded_at = time.perf_counter()
        rooms = asyncio.run(_seed(url, args.consultations, per_doctor=10))
        print(f"seeded {len(rooms)} consultations in {time.perf_counter() - seeded_at:.1f} s ({args.db})")

        port = _free_port()
        servers.append(_start_regio(url, port, folder / "regio.log", args.pool))
        regio_urls = [
            (
                f"ws://127.0.0.1:{port}/ws/care/consultations/{room.consultation_id}",
                f"ws://127.0.0.1:{port}/ws/care/consultations/{room.consultation_id}",
                [],
            )
            for room in rooms
        ]
        # Each side signs in with its own token (subprotocol "bearer.<token>").
        regio_pairs = [
            (f"{a}?access_token={room.patient_token}", f"{b}?access_token={room.doctor_token}", p)
            for (a, b, p), room in zip(regio_urls, rooms, strict=True)
        ]
        connect_started = time.perf_counter()
        regio = asyncio.run(_run_load(regio_pairs, rate=args.rate, seconds=args.seconds, regio=True, seed=1))
        print(
            f"regio: {len(regio.sent)} sent, {len(regio.received)} received in {time.perf_counter() - connect_started:.1f} s"
        )
        servers.pop().terminate()

        base_port = _free_port()
        servers.append(_start_baseline(base_port, folder / "baseline.log"))
        base_pairs = [
            (f"ws://127.0.0.1:{base_port}/relay/{n}", f"ws://127.0.0.1:{base_port}/relay/{n}", [])
            for n in range(len(rooms))
        ]
        baseline = asyncio.run(
            _run_load(base_pairs, rate=args.rate, seconds=args.seconds, regio=False, seed=1)
        )
        servers.pop().terminate()

        stored = asyncio.run(_stored(url))
        lost = len(regio.sent) - len(regio.received)
        result = {
            "db": args.db,
            "consultations": len(rooms),
            "sockets": 2 * len(rooms),
            "messages": len(regio.sent),
            "stored": stored,
            "msgs_per_s": round(len(regio.sent) / args.seconds, 1),
            "p50_ms": round(_percentile(regio.latencies, 0.5) * 1000, 2),
            "p99_ms": round(_percentile(regio.latencies, 0.99) * 1000, 2),
            "max_ms": round(max(regio.latencies, default=float("nan")) * 1000, 2),
            "baseline_p50_ms": round(_percentile(baseline.latencies, 0.5) * 1000, 2),
            "baseline_p99_ms": round(_percentile(baseline.latencies, 0.99) * 1000, 2),
            "p99_ratio": round(_percentile(regio.latencies, 0.99) / _percentile(baseline.latencies, 0.99), 2),
            "lost": lost,
            "duplicates": regio.duplicates,
            "baseline_lost": len(baseline.sent) - len(baseline.received),
        }
        print(json.dumps(result))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            with contextlib.suppress(Exception):
                server.wait(timeout=30)
        _drop(cleanup)


if __name__ == "__main__":
    main()
