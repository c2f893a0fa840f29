"""The dashboard's live channel on a real server: a warning arrives on the open WebSocket, and a
dashboard that was away resumes from the last sequence it saw without losing a line."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from regio.config import Settings
from regio.core.db import Database
from tests.factories import token_headers
from tests.risk.warnings.conftest import (
    HANGZHOU,
    HUZHOU,
    JIAXING,
    journey,
    make_officer,
    officer_grant,
    reach,
    write_event,
)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served(app: Any) -> AsyncIterator[str]:
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _protocols(settings: Settings, user: Any) -> list[str]:
    token = token_headers(settings, user)["Authorization"].split(" ", 1)[1]
    return ["regio", f"bearer.{token}"]


async def _next_feed(ws: Any, wait: float = 3.0) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=wait))
        if message["type"] == "feed":
            return message


async def _drain(ws: Any) -> list[dict[str, Any]]:
    lines = []
    while True:
        try:
            lines.append(await _next_feed(ws, wait=0.5))
        except TimeoutError:
            return lines


async def test_a_warning_arrives_live_and_a_returning_dashboard_replays_what_it_missed(
    served: str, app: Any, db: Database, settings: Settings, places: None
) -> None:
    huzhou = await make_officer(db, officer_grant(HUZHOU))
    protocols = _protocols(settings, huzhou.user)
    async with connect(f"{served}/ws/risk/dashboard?after=0", subprotocols=protocols) as ws:  # type: ignore[arg-type]
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and f"prefecture:{HUZHOU}" in hello["audiences"]
        first = await write_event(db, origin=HANGZHOU, headline="第一条预警")
        await journey(db, settings, first, reach(HUZHOU), bus=app.state.events)
        live = await _next_feed(ws)
        assert live["kind"] == "warning" and live["payload"]["headline"] == "第一条预警"
        seen = live["id"]

    # away: a second warning is sent while no dashboard is open
    second = await write_event(db, origin=JIAXING, headline="第二条预警")
    await journey(db, settings, second, reach(HUZHOU), bus=app.state.events)

    async with connect(f"{served}/ws/risk/dashboard?after={seen}", subprotocols=protocols) as ws:  # type: ignore[arg-type]
        json.loads(await ws.recv())  # hello
        replayed = await _drain(ws)
        # the missed line arrives; lines of the last moments may come again (a transaction that
        # committed late can carry a smaller id), and the page drops those by id
        missed = [line for line in replayed if line["id"] > seen]
        assert [line["payload"]["headline"] for line in missed] == ["第二条预警"]
        assert len({line["id"] for line in replayed}) == len(replayed)

    async with connect(f"{served}/ws/risk/dashboard?after=0", subprotocols=protocols) as ws:  # type: ignore[arg-type]
        json.loads(await ws.recv())
        everything = [await _next_feed(ws), await _next_feed(ws)]
        assert [line["payload"]["headline"] for line in everything] == ["第一条预警", "第二条预警"]
        # nothing twice: the next line is not a repeat
        with pytest.raises(TimeoutError):
            await _next_feed(ws, wait=0.5)


async def test_a_dashboard_without_a_sign_in_is_refused(served: str, places: None) -> None:
    with pytest.raises((InvalidStatus, ConnectionClosedError)) as refused:
        async with connect(f"{served}/ws/risk/dashboard") as ws:
            await ws.recv()
    if isinstance(refused.value, ConnectionClosedError):
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 1008
