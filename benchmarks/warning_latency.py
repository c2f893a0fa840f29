"""Warning latency: a report reaches every affected officer's open dashboard, and none is lost.

    python benchmarks/warning_latency.py [--db sqlite|postgresql] [--database-url URL]
                                         [--dashboards N] [--reports N] [--per-minute R]
                                         [--no-restart] [--quick]

Starts the real server (uvicorn, one process, background loops on) on a fresh database with
Zhejiang's boundaries (the Yangtze River Delta without --quick) and coordination bodies, opens N
officer dashboards (WebSocket, token sign-in) spread over Zhejiang's prefectures and two
coordination bodies, and sends reports at R a minute, each a hazard across the border of two
neighbouring prefectures (so the spill-over models run and find the neighbour). Half-way the
server is killed (SIGKILL) and started again: dashboards reconnect with ?after=<last seen>,
reports retry with their Idempotency-Key.

Latency of a report: from sending its POST to the moment the last dashboard that should get one
of its warnings has it (an upper bound on accepted → received). `p50_ms`/`p99_ms` are over the
reports answered before the crash (steady state); the reports the crash caught and those sent
during the recovery are reported apart. `lost`: (dashboard, warning) pairs of every report that
should have arrived and never did. The baseline is the same fan-out (the same feed
lines to the same dashboards at the same rate) through a bare Starlette WebSocket relay with no
database and no sign-in, in the same run. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import shapely
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from regio.cli import upgrade_database  # noqa: E402
from regio.core.access import Role, RoleGrant, ScopeKind  # noqa: E402
from regio.core.db import Database, utcnow  # noqa: E402
from regio.core.identity import passwords, tokens  # noqa: E402
from regio.core.identity import service as identity_service  # noqa: E402
from regio.risk.geography import loader  # noqa: E402
from regio.risk.geography import service as geography_service  # noqa: E402
from regio.risk.warnings.models import RiskWarning, WarningFeed  # noqa: E402

SECRET = "bench-secret-key-" + "s" * 40
DATA_KEY = "bench-data-key-" + "d" * 40
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BODIES = ("yangtze-river-delta", "hangzhou-metropolitan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_database(kind: str, url: str | None, folder: Path) -> tuple[str, Any]:
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


def _drop(cleanup: Any) -> None:
    if cleanup is None:
        return
    admin, name = cleanup
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --- seeding -------------------------------------------------------------------------------------


@dataclass
class Dashboard:
    number: int
    token: str
    audiences: frozenset[str]
    received: dict[int, float] = field(default_factory=dict)  # warning id -> first arrival
    last_seen: int = 0
    lines: set[int] = field(default_factory=set)
    connects: int = 0


@dataclass
class Scenario:
    origin: str
    origin_token: str
    polygon: dict[str, Any]


async def _seed(
    url: str, provinces: tuple[str, ...], dashboards: int
) -> tuple[list[Dashboard], list[tuple[str, str, Any]]]:
    """Boundaries, bodies and officers; returns the dashboards and the prefecture border pairs."""
    bundle = await asyncio.to_thread(loader.load_bundle, provinces)
    db = Database(url)
    try:
        async with db.session() as session:
            await geography_service.load_geography(
                session=session, principal=geography_service.SYSTEM, bundle=bundle
            )
        async with db.session() as session:
            await geography_service.seed_bodies(session=session, principal=geography_service.SYSTEM)
        shapes = {j.adcode: j.geometry for j in bundle.jurisdictions if j.level.value == "prefecture"}
        zhejiang = sorted(a for a in shapes if a.startswith("33"))
        pairs = []
        for level, a, b, _km in bundle.adjacency:
            if level.value == "prefecture" and a in zhejiang and b in zhejiang:
                border = shapes[a].boundary.intersection(shapes[b].boundary.buffer(0.01))
                if not border.is_empty:
                    pairs.append((a, b, border.representative_point()))
        password_hash = passwords.hash_sync("bench-password-1")
        now = int(utcnow().timestamp())
        bodies = max(2, dashboards // 40)
        made: list[Dashboard] = []
        for n in range(dashboards):
            if n < bodies:
                slug = BODIES[n % len(BODIES)]
                grant = RoleGrant(Role.coordinator, ScopeKind.coordination_body, slug)
                audiences = frozenset({f"body:{slug}"})
            else:
                adcode = zhejiang[n % len(zhejiang)]
                grant = RoleGrant(Role.city_officer, ScopeKind.jurisdiction, adcode)
                audiences = frozenset(f"{level}:{adcode}" for level in ("province", "prefecture", "county"))
            async with db.session() as session:
                user = await identity_service.create_user_with_hash(
                    session=session,
                    username=f"bench{n}",
                    password_hash=password_hash,
                    display_name=f"值班员{n}",
                    grants=[grant],
                )
            token = tokens.issue_access_token(
                secret_key=SECRET, subject=f"u:{user.id}", now=now, ttl_seconds=7200
            )
            made.append(Dashboard(number=n, token=token, audiences=audiences))
        return made, pairs
    finally:
        await db.dispose()


# --- the server ----------------------------------------------------------------------------------


def _start(
    command: list[str], env: dict[str, str], log: Path, port: int, health: str
) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not start:\n" + log.read_text(errors="replace")[-3000:])


def _uvicorn(target: str, port: int, *, factory: bool) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", target, "--port", str(port), "--log-level", "warning"]
    command += ["--no-access-log", "--timeout-keep-alive", "60"]
    if factory:
        command.append("--factory")
    if importlib.util.find_spec("uvloop") is not None:
        command += ["--loop", "uvloop"]
    return command


def _regio_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "REGIO_DATABASE_URL": url,
        "REGIO_ENVIRONMENT": "test",
        "REGIO_SECRET_KEY": SECRET,
        "REGIO_DATA_KEY": DATA_KEY,
        "PYTHONPATH": str(ROOT / "src"),
    }


# --- clients -------------------------------------------------------------------------------------


async def _dashboard(dash: Dashboard, port: int, stop: asyncio.Event, path: str) -> None:
    """Keeps one dashboard connected, resuming after the last line seen, until stopped."""
    from websockets.asyncio.client import connect

    pause = 0.2
    while not stop.is_set():
        uri = f"ws://127.0.0.1:{port}{path}?after={dash.last_seen}"
        try:
            async with connect(uri, subprotocols=["regio", f"bearer.{dash.token}"], max_queue=None) as ws:  # type: ignore[list-item]
                dash.connects += 1
                pause = 0.2
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    arrived = time.perf_counter()
                    message = json.loads(raw)
                    if message.get("type") != "feed" or message["id"] in dash.lines:
                        continue
                    dash.lines.add(message["id"])
                    dash.last_seen = max(dash.last_seen, message["id"])
                    if message["kind"] == "warning" and message["audience"] in dash.audiences:
                        dash.received.setdefault(int(message["warning_id"]), arrived)
        except Exception:
            # a server restarting is not hammered: back off, with jitter, up to two seconds
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(2.0, pause * 2)


async def _report(client: httpx.AsyncClient, scenario: Scenario, number: int) -> tuple[int, float, float]:
    """Sends one report, retrying through a restart with the same Idempotency-Key;
    returns (event id, sent, answered)."""
    body = {
        "category": "natural_disaster",
        "event_type": "landslide",
        "kind": "risk",
        "warning_level": 1 + number % 4,
        "certainty": "Likely",
        "urgency": "Expected",
        "origin_level": "prefecture",
        "origin_adcode": scenario.origin,
        "area": {"geojson": scenario.polygon},
        "detected_at": utcnow().isoformat(),
        "headline": f"压测报告 {number}",
    }
    headers = {
        "Authorization": f"Bearer {scenario.origin_token}",
        "Idempotency-Key": f"bench-{number}-{uuid.uuid4().hex}",
    }
    sent = time.perf_counter()
    while True:
        try:
            answer = await client.post("/api/risk/events", json=body, headers=headers)
            if answer.status_code == 201:
                return int(answer.json()["event_id"]), sent, time.perf_counter()
            if answer.status_code < 500:
                raise RuntimeError(f"report refused: {answer.status_code} {answer.text[:300]}")
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _expected(
    url: str, roots: list[int]
) -> tuple[dict[int, list[tuple[int, str]]], dict[int, list[dict[str, Any]]]]:
    """Per report: its warnings (id, recipient key), and its feed lines (for the baseline)."""
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (
                await session.execute(select(RiskWarning.root_id, RiskWarning.id, RiskWarning.recipient_key))
            ).all()
            lines = (await session.execute(select(WarningFeed).order_by(WarningFeed.id))).scalars().all()
    finally:
        await db.dispose()
    wanted = set(roots)
    warnings: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for root_id, warning_id, key in rows:
        if root_id in wanted:
            warnings[root_id].append((warning_id, key))
    feed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if line.root_id in wanted and line.kind == "warning":
            feed[line.root_id].append(
                {
                    "type": "feed",
                    "id": line.id,
                    "audience": line.audience,
                    "kind": line.kind,
                    "warning_id": line.warning_id,
                    "payload": line.payload,
                }
            )
    return warnings, feed


async def _run_regio(
    args: argparse.Namespace, url: str, dashboards: list[Dashboard], scenarios: list[Scenario], folder: Path
) -> dict[str, Any]:
    port = _free_port()
    command = _uvicorn("regio.app:create_app", port, factory=True)
    env = _regio_env(url)
    log = folder / "server.log"
    started = time.perf_counter()
    server = _start(command, env, log, port, "/healthz")
    print(f"server started in {time.perf_counter() - started:.1f} s")
    stop = asyncio.Event()
    readers = [asyncio.create_task(_dashboard(d, port, stop, "/ws/risk/dashboard")) for d in dashboards]
    sent_at: dict[int, float] = {}
    answered_at: dict[int, float] = {}
    restart_window: tuple[float, float] | None = None
    try:
        while sum(1 for d in dashboards if d.connects) < len(dashboards):  # noqa: ASYNC110 (counting sockets)
            await asyncio.sleep(0.1)
        print(f"{len(dashboards)} dashboards connected")
        interval = 60.0 / args.per_minute
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as client:
            # one report first, untimed: the first spill-over warms the process's caches
            await _report(client, scenarios[-1], -1)
            await asyncio.sleep(1.0)
            tasks = []
            restarter: asyncio.Task[None] | None = None

            async def crash_and_restart() -> None:
                # a crash, not a polite stop: whatever was in flight must still arrive
                nonlocal server, restart_window
                down = time.perf_counter()
                server.send_signal(signal.SIGKILL)
                await asyncio.to_thread(server.wait)
                server = await asyncio.to_thread(_start, command, env, log, port, "/healthz")
                restart_window = (down, time.perf_counter())
                print(f"server killed and restarted in {restart_window[1] - down:.1f} s")

            start = time.perf_counter()
            for number in range(args.reports):
                await asyncio.sleep(max(0.0, start + number * interval - time.perf_counter()))
                if not args.no_restart and number == args.reports // 2:
                    restarter = asyncio.create_task(crash_and_restart())
                    await asyncio.sleep(0)
                tasks.append(asyncio.create_task(_report(client, scenarios[number % len(scenarios)], number)))
            if restarter is not None:
                await restarter
            results = await asyncio.gather(*tasks)
        for event_id, sent, answered in results:
            sent_at[event_id] = sent
            answered_at[event_id] = answered
        warnings, feed = await _expected(url, list(sent_at))
        # wait until every expected line arrived, or a generous grace passed
        deadline = time.perf_counter() + args.grace
        while time.perf_counter() < deadline:
            missing = _missing(dashboards, warnings)
            if not missing:
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*readers, return_exceptions=True)
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
    # steady state (before a crash), the reports the crash caught, and the recovery after it
    latencies: list[float] = []
    around_restart: list[float] = []
    after_restart: list[float] = []
    for root_id, sent in sent_at.items():
        arrivals = [
            d.received[w]
            for w, key in warnings.get(root_id, [])
            for d in dashboards
            if key in d.audiences and w in d.received
        ]
        if not arrivals:
            continue
        latency = (max(arrivals) - sent) * 1000
        if restart_window is None or answered_at[root_id] < restart_window[0]:
            latencies.append(latency)
        elif sent <= restart_window[1]:
            around_restart.append(latency)
        else:
            after_restart.append(latency)
    deliveries = sum(1 for ws in warnings.values() for _, key in ws for d in dashboards if key in d.audiences)
    return {
        "reports": len(sent_at),
        "warnings": sum(len(ws) for ws in warnings.values()),
        "deliveries": deliveries,
        "lost": len(_missing(dashboards, warnings)),
        "latencies": latencies,
        "around_restart": around_restart,
        "after_restart": after_restart,
        "feed": feed,
        "order": [root for root, _ in sorted(sent_at.items(), key=lambda item: item[1])],
        "restart_s": None if restart_window is None else round(restart_window[1] - restart_window[0], 2),
    }


def _missing(
    dashboards: list[Dashboard], warnings: dict[int, list[tuple[int, str]]]
) -> list[tuple[int, int]]:
    return [
        (d.number, w)
        for ws in warnings.values()
        for w, key in ws
        for d in dashboards
        if key in d.audiences and w not in d.received
    ]


# --- the baseline: a bare Starlette relay --------------------------------------------------------


def relay_app() -> Any:
    """Fans each posted line out to the sockets of its audience; no database, no sign-in."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    sockets: dict[str, set[WebSocket]] = defaultdict(set)

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def publish(request: Request) -> JSONResponse:
        lines = await request.json()
        for line in lines:
            for ws in list(sockets.get(line["audience"], ())):
                with contextlib.suppress(Exception):
                    await ws.send_json(line)
        return JSONResponse({"sent": len(lines)}, status_code=201)

    async def socket_route(ws: WebSocket) -> None:
        keys = ws.query_params.get("keys", "").split(",")
        await ws.accept(subprotocol="regio")
        for key in keys:
            sockets[key].add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            for key in keys:
                sockets[key].discard(ws)

    return Starlette(
        routes=[
            Route("/healthz", health),
            Route("/publish", publish, methods=["POST"]),
            WebSocketRoute("/ws", socket_route),
        ]
    )


async def _run_baseline(
    args: argparse.Namespace, dashboards: list[Dashboard], regio: dict[str, Any], folder: Path
) -> list[float]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'benchmarks'}{os.pathsep}{ROOT / 'src'}"}
    server = _start(
        _uvicorn("warning_latency:relay_app", port, factory=True), env, folder / "relay.log", port, "/healthz"
    )
    copies = [Dashboard(number=d.number, token="", audiences=d.audiences) for d in dashboards]
    stop = asyncio.Event()

    async def reader(dash: Dashboard) -> None:
        from websockets.asyncio.client import connect

        keys = ",".join(sorted(dash.audiences))
        async with connect(
            f"ws://127.0.0.1:{port}/ws?keys={keys}", subprotocols=["regio"], max_queue=None
        ) as ws:  # type: ignore[list-item]
            dash.connects += 1
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                message = json.loads(raw)
                dash.received.setdefault(int(message["warning_id"]), time.perf_counter())

    readers = [asyncio.create_task(reader(d)) for d in copies]
    latencies: list[float] = []
    try:
        while sum(1 for d in copies if d.connects) < len(copies):  # noqa: ASYNC110 (counting sockets)
            await asyncio.sleep(0.05)
        interval = 60.0 / args.per_minute
        sent_at: dict[int, float] = {}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            start = time.perf_counter()
            posts = []
            for number, root in enumerate(regio["order"]):
                await asyncio.sleep(max(0.0, start + number * interval - time.perf_counter()))
                sent_at[root] = time.perf_counter()
                posts.append(asyncio.create_task(client.post("/publish", json=regio["feed"].get(root, []))))
            await asyncio.gather(*posts)
        await asyncio.sleep(1.0)
        for root, sent in sent_at.items():
            arrivals = [
                d.received[line["warning_id"]]
                for line in regio["feed"].get(root, [])
                for d in copies
                if line["audience"] in d.audiences and line["warning_id"] in d.received
            ]
            if arrivals:
                latencies.append((max(arrivals) - sent) * 1000)
    finally:
        stop.set()
        await asyncio.gather(*readers, return_exceptions=True)
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL server to create the fresh database on"
    )
    parser.add_argument("--dashboards", type=int, default=300)
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--per-minute", type=float, default=100.0)
    parser.add_argument("--grace", type=float, default=30.0, help="seconds to wait for late lines at the end")
    parser.add_argument(
        "--no-restart", action="store_true", help="do not kill and restart the server mid-run"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small run that finishes in well under a minute"
    )
    args = parser.parse_args()
    provinces: tuple[str, ...] = ("31", "32", "33", "34")
    if args.quick:
        args.dashboards, args.reports, args.per_minute, args.grace = 40, 16, 240.0, 20.0
        provinces = ("33",)

    folder = Path(tempfile.mkdtemp(prefix="regio-bench-"))
    url, cleanup = _fresh_database(args.db, args.database_url, folder)
    try:
        upgrade_database(url)
        seeded = time.perf_counter()
        dashboards, pairs = asyncio.run(_seed(url, provinces, args.dashboards))
        tokens_by_city = {
            next(iter(d.audiences)).split(":")[1]: d.token
            for d in dashboards
            if not next(iter(d.audiences)).startswith("body:")
        }
        rng = random.Random(20261130)
        scenarios = []
        for a, b, point in pairs:
            for origin in (a, b):
                if origin in tokens_by_city:
                    box = shapely.box(point.x - 0.04, point.y - 0.04, point.x + 0.04, point.y + 0.04)
                    scenarios.append(
                        Scenario(
                            origin=origin,
                            origin_token=tokens_by_city[origin],
                            polygon=shapely.geometry.mapping(box),
                        )
                    )
        rng.shuffle(scenarios)
        print(
            f"seeded {len(dashboards)} officers, {len(scenarios)} border scenarios in "
            f"{time.perf_counter() - seeded:.1f} s ({args.db})"
        )
        regio = asyncio.run(_run_regio(args, url, dashboards, scenarios, folder))
        p50 = _percentile(regio["latencies"], 0.5)
        p99 = _percentile(regio["latencies"], 0.99)
        print(
            f"regio: {regio['reports']} reports, {regio['warnings']} warnings, {regio['deliveries']} dashboard deliveries, "
            f"lost {regio['lost']}, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            + (
                f"; caught by the crash (restart took {regio['restart_s']} s): {len(regio['around_restart'])} "
                f"reports, max {max(regio['around_restart'], default=0):.0f} ms; sent after it: "
                f"{len(regio['after_restart'])} reports, p99 {_percentile(regio['after_restart'], 0.99):.0f} ms"
                if regio["restart_s"] is not None
                else ""
            )
        )
        baseline = asyncio.run(_run_baseline(args, dashboards, regio, folder))
        base_p50, base_p99 = _percentile(baseline, 0.5), _percentile(baseline, 0.99)
        print(f"bare Starlette relay: p50 {base_p50:.1f} ms, p99 {base_p99:.1f} ms")
        result = {
            "db": args.db,
            "dashboards": len(dashboards),
            "reports": regio["reports"],
            "warnings": regio["warnings"],
            "deliveries": regio["deliveries"],
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            "baseline_p50_ms": round(base_p50, 1),
            "baseline_p99_ms": round(base_p99, 1),
            "ratio_p99": round(p99 / base_p99, 2) if base_p99 else None,
            "lost": regio["lost"],
            "restarted": regio["restart_s"] is not None,
            "restart_s": regio["restart_s"],
            "steady_reports": len(regio["latencies"]),
            "around_restart_reports": len(regio["around_restart"]),
            "around_restart_max_ms": round(max(regio["around_restart"], default=0.0), 1),
            "after_restart_p99_ms": round(_percentile(regio["after_restart"], 0.99), 1),
            "per_minute": args.per_minute,
        }
        print(json.dumps(result))
    finally:
        _drop(cleanup)


if __name__ == "__main__":
    main()
