"""JSON routes of warnings and the officer dashboard's live channel (WebSocket).

Thin: parse, call the service. The live channel subscribes before it replays the feed from the
last sequence the client saw, and re-reads the feed now and then, so a restart, a reconnect or a
missed publish loses nothing; the client drops lines it already has by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION

from regio.config import Settings
from regio.core.db import MAX_ID, Database
from regio.core.deps import (
    SIGNED_OUT,
    CurrentPrincipal,
    RecordId,
    SessionDep,
    WebSocketPrincipal,
    close_when_signed_out,
)
from regio.core.events import EventBus, InProcessBus, Lagged
from regio.risk import flows
from regio.risk.warnings import (
    handlers,  # registers the jobs and outbox handlers
    policies,
    service,
)
from regio.risk.warnings.schemas import (
    Feed,
    FeedItem,
    Responsibility,
    TaskIn,
    TaskOut,
    WarningList,
    WarningOut,
    WebhookIn,
    WebhookOut,
)

log = logging.getLogger("regio.risk.warnings")

router = APIRouter(tags=["warnings"])

After = Annotated[int, Query(ge=0, le=MAX_ID, description="The last feed sequence the client has seen.")]
# Warning ids this process already recorded as delivered to a dashboard (one write per warning).
_seen: set[int] = set()
_SEEN_LIMIT = 100_000


def app_bus(connection: HTTPConnection) -> EventBus:
    """The app's live bus (made on first use when the lifespan did not run, as in tests)."""
    bus: EventBus | None = getattr(connection.app.state, "events", None)
    if bus is None:
        bus = InProcessBus()
        connection.app.state.events = bus
    # Journeys run by background work (the outbox backstop, timed jobs) share the app's bus and
    # geography index, so one `regio serve` needs neither Redis nor a second index.
    handlers.adopt_bus(bus)
    holder = getattr(connection.app.state, "geography_index", None)
    if holder is not None:
        flows.use_index_holder(holder)
    return bus


EventsDep = Annotated[EventBus, Depends(app_bus)]


class DashboardOut(BaseModel):
    audiences: list[str]
    head: int
    warnings: list[WarningOut]


@router.get("/api/risk/dashboard", response_model=DashboardOut)
async def get_dashboard(session: SessionDep, principal: CurrentPrincipal) -> DashboardOut:
    keys, warnings, head = await service.dashboard(session=session, principal=principal)
    return DashboardOut(audiences=keys, head=head, warnings=warnings.warnings)


@router.get("/api/risk/dashboard/feed", response_model=Feed)
async def get_feed(session: SessionDep, principal: CurrentPrincipal, after: After = 0) -> Feed:
    return await service.feed(session=session, principal=principal, after=after)


@router.post("/api/risk/warnings/{warning_id}/acknowledge", response_model=WarningOut)
async def acknowledge(
    warning_id: RecordId, session: SessionDep, principal: CurrentPrincipal, bus: EventsDep
) -> WarningOut:
    return await service.acknowledge(session=session, bus=bus, principal=principal, warning_id=warning_id)


@router.get("/api/risk/events/{event_id}/responsibility", response_model=Responsibility)
async def get_responsibility(
    event_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Responsibility:
    return await service.responsibility(session=session, principal=principal, event_id=event_id)


@router.get("/api/risk/events/{event_id}/warnings", response_model=WarningList)
async def get_event_warnings(
    event_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> WarningList:
    found = await service.responsibility(session=session, principal=principal, event_id=event_id)
    return WarningList(warnings=found.warnings)


@router.post("/api/risk/events/{event_id}/tasks", response_model=TaskOut, status_code=201)
async def add_task(
    event_id: RecordId, body: TaskIn, session: SessionDep, principal: CurrentPrincipal, bus: EventsDep
) -> TaskOut:
    return await service.add_task(session=session, bus=bus, principal=principal, event_id=event_id, data=body)


@router.post("/api/risk/tasks/{task_id}/complete", response_model=TaskOut)
async def complete_task(
    task_id: RecordId, session: SessionDep, principal: CurrentPrincipal, bus: EventsDep
) -> TaskOut:
    return await service.complete_task(session=session, bus=bus, principal=principal, task_id=task_id)


@router.post("/api/risk/webhook-subscriptions", response_model=WebhookOut, status_code=201)
async def subscribe_webhook(body: WebhookIn, session: SessionDep, principal: CurrentPrincipal) -> WebhookOut:
    return await service.subscribe_webhook(session=session, principal=principal, data=body)


# --- the live channel ------------------------------------------------------------------------------


async def _replay(db: Database, principal: Any, after: int) -> list[FeedItem]:
    async with db.session() as session:
        found = await service.feed(session=session, principal=principal, after=after)
    return found.items


async def _mark_seen(db: Database, principal: Any, warning_ids: list[int]) -> None:
    try:
        async with db.session() as session:
            await service.mark_seen(session=session, principal=principal, warning_ids=warning_ids)
    except Exception:
        log.warning("recording dashboard delivery failed", exc_info=True)


@router.websocket("/ws/risk/dashboard")
async def dashboard_socket(websocket: WebSocket, principal: WebSocketPrincipal, after: After = 0) -> None:
    """Feed lines for the officer's jurisdictions and bodies, live, from `after` on."""
    settings: Settings = websocket.app.state.settings
    db: Database = websocket.app.state.db
    bus = app_bus(websocket)
    keys = sorted(policies.audiences(principal))
    await websocket.accept(subprotocol=getattr(websocket.state, "subprotocol", None))
    if not policies.decide(principal, policies.Action.read):
        # default deny before anything is sent, as the HTTP feed answers 403
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason="forbidden")
        return
    sent: set[int] = set()
    last = after
    pending_marks: list[int] = []

    async def send(item: dict[str, Any]) -> None:
        nonlocal last
        line_id = int(item["id"])
        if line_id in sent:
            return
        sent.add(line_id)
        last = max(last, line_id)
        await websocket.send_json({"type": "feed", **item} if item.get("type") != "feed" else item)
        warning_id = item.get("warning_id")
        if (
            item.get("kind") == "warning"
            and item.get("audience") in keys
            and warning_id
            and warning_id not in _seen
        ):
            pending_marks.append(int(warning_id))

    def flush_marks() -> None:
        if not pending_marks:
            return
        if len(_seen) > _SEEN_LIMIT:
            _seen.clear()
        _seen.update(pending_marks)
        asyncio.create_task(_mark_seen(db, principal, list(pending_marks)))  # noqa: RUF006
        pending_marks.clear()

    async def serve() -> None:
        await websocket.send_json({"type": "hello", "audiences": keys, "after": after})
        while True:
            # Subscribed before replaying: a line committed meanwhile arrives live or in the replay.
            async with bus.subscribe(*(policies.channel(key) for key in keys)) as subscription:
                for line in await _replay(db, principal, last):
                    await send(line.model_dump(mode="json"))
                flush_marks()
                while True:
                    try:
                        message = await asyncio.wait_for(
                            subscription.get(), timeout=settings.warning_dashboard_poll_seconds
                        )
                        await send(message)
                        while (more := subscription.get_nowait()) is not None:
                            await send(more)
                    except TimeoutError:
                        # Quiet for a while: the feed in the database is the record; re-read it.
                        for line in await _replay(db, principal, last):
                            await send(line.model_dump(mode="json"))
                    except Lagged:
                        break  # fell behind: subscribe afresh and replay from the last line sent
                    flush_marks()

    async def watch_close() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                incoming = await websocket.receive()
                if incoming["type"] == "websocket.disconnect":
                    return

    serving = asyncio.create_task(serve())
    closing = asyncio.create_task(watch_close())
    signed_out = asyncio.create_task(close_when_signed_out(websocket))
    code, reason = 1000, ""
    try:
        done, _ = await asyncio.wait({serving, closing, signed_out}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done and serving.exception() is not None:
            exc = serving.exception()
            if not isinstance(exc, WebSocketDisconnect | RuntimeError):
                log.warning("dashboard socket ended: %r", exc)
        if signed_out in done:
            code, reason = WS_1008_POLICY_VIOLATION, SIGNED_OUT
    finally:
        for task in (serving, closing, signed_out):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await websocket.close(code=code, reason=reason)
