"""Open WebSockets follow the sign-in they were opened with: signing out, a deactivated account or a
dashboard for someone without risk access closes the socket with 1008, not only the next request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from regio.care.consultation.enums import Status
from regio.config import Settings
from regio.core.access import Role
from regio.core.db import Database
from regio.core.deps import SIGNED_OUT
from regio.core.identity.models import User
from regio.core.identity.service import SESSION_COOKIE
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import (  # noqa: F401 (fixtures used by name)
    Live,
    MakePatients,
    live,
    make_patients,
    open_consultation,
    world,
)
from tests.factories import browser_login, make_user, token_headers

pytestmark = pytest.mark.slow

RECHECK = 0.2


@pytest.fixture(autouse=True)
def quick_recheck(settings: Settings) -> None:
    settings.ws_recheck_seconds = RECHECK


def bearer(settings: Settings, user_id: int) -> list[str]:
    token = token_headers(settings, User(id=user_id))["Authorization"].split(" ", 1)[1]
    return ["regio", f"bearer.{token}"]


async def close_code(ws: ClientConnection, within: float = 5.0) -> tuple[int | None, str | None]:
    """Reads frames until the server closes; the close code and reason."""
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, None)
    return None, None


async def deactivate(db: Database, user_id: int) -> None:
    async with db.session() as session, session.begin():
        await session.execute(update(User).where(User.id == user_id).values(is_active=False))


@pytest.fixture
async def chat(db: Database, settings: Settings, world: World, make_patients: MakePatients) -> Any:  # noqa: F811
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.in_progress)
    return c, patient


async def test_a_consultation_socket_of_a_deactivated_patient_is_closed(
    live: Live,  # noqa: F811
    db: Database,
    settings: Settings,
    chat: Any,
) -> None:
    c, patient = chat
    url = f"{live.ws}/ws/care/consultations/{c.id}"
    async with connect(url, subprotocols=bearer(settings, patient.user.id)) as ws:  # type: ignore[arg-type]
        assert json.loads(await ws.recv())["type"] == "hello"
        await asyncio.sleep(RECHECK * 3)
        await ws.send(json.dumps({"type": "ping"}))  # still signed in: the socket stays open
        assert await frame_of_type(ws, "pong")
        await deactivate(db, patient.user.id)
        assert await close_code(ws) == (1008, SIGNED_OUT)


async def test_a_consultation_socket_opened_by_cookie_is_closed_when_the_session_signs_out(
    live: Live,  # noqa: F811
    db: Database,
    settings: Settings,
    chat: Any,
) -> None:
    c, patient = chat
    async with httpx.AsyncClient(base_url=live.base) as browser:
        await browser_login(browser, patient.user.username)
        cookie = browser.cookies.get(SESSION_COOKIE)
        url = f"{live.ws}/ws/care/consultations/{c.id}"
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": live.base}
        async with connect(url, subprotocols=["regio"], additional_headers=headers) as ws:  # type: ignore[list-item]
            assert json.loads(await ws.recv())["type"] == "hello"
            page = await browser.get("/account")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed_out = await browser.post("/logout", data={"csrf_token": token})
            assert signed_out.status_code in (200, 303), signed_out.text
            assert await close_code(ws) == (1008, SIGNED_OUT)


async def frame_of_type(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame  # type: ignore[no-any-return]


async def test_the_dashboard_socket_refuses_someone_without_risk_access(
    live: Live,  # noqa: F811
    db: Database,
    settings: Settings,
) -> None:
    patient = await make_user(db, roles=[Role.patient])
    async with connect(f"{live.ws}/ws/risk/dashboard", subprotocols=bearer(settings, patient.id)) as ws:  # type: ignore[arg-type]
        assert await close_code(ws) == (1008, "forbidden")


async def test_the_dashboard_socket_of_a_deactivated_officer_is_closed(
    live: Live,  # noqa: F811
    db: Database,
    settings: Settings,
) -> None:
    officer = await make_user(db, roles=[Role.regulator])
    async with connect(f"{live.ws}/ws/risk/dashboard", subprotocols=bearer(settings, officer.id)) as ws:  # type: ignore[arg-type]
        assert json.loads(await ws.recv())["type"] == "hello"
        await asyncio.sleep(RECHECK * 3)
        await deactivate(db, officer.id)
        assert await close_code(ws) == (1008, SIGNED_OUT)
