"""JSON routes and the WebSocket of consultation: life cycle, quick questions, chat, attachments, calls.

Thin: parse, call the service. The WebSocket `/ws/care/consultations/{id}?after=SEQ` carries the
chat, read receipts and WebRTC signalling; its protocol is described on `consultation_socket`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION, WS_1011_INTERNAL_ERROR

from regio.care.consultation import (
    handlers,
    service,
)
from regio.care.consultation.enums import Status
from regio.care.consultation.schemas import (
    CallIn,
    CallOut,
    ConsultationOut,
    FromAppointmentIn,
    IceOut,
    MessageIn,
    MessageOut,
    QueueOut,
    QuickQuestionIn,
    QuickQuestionOut,
    ReadIn,
)
from regio.config import Settings
from regio.core.blobs import BlobStore, blob_store_for
from regio.core.db import Database
from regio.core.deps import (
    SIGNED_OUT,
    CurrentPrincipal,
    RecordId,
    SessionDep,
    SettingsDep,
    WebSocketPrincipal,
    close_when_signed_out,
)
from regio.core.errors import DomainError, InvalidInput
from regio.core.events import EventBus, Lagged

log = logging.getLogger("regio.consultation")

router = APIRouter(tags=["consultation"])

ClientMsgHeader = Annotated[
    str | None, Header(alias="X-Client-Msg-Id", max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
FileNameHeader = Annotated[str | None, Header(alias="X-File-Name", max_length=600)]
_REPLAY_PAGE = 500


def live_events(connection: HTTPConnection) -> EventBus | None:
    """The process's live bus, if the app is serving (it is made at start-up); notices use it too."""
    bus: EventBus | None = getattr(connection.app.state, "events", None)
    if bus is not None:
        handlers.attach_bus(bus)
    return bus


async def blob_store(connection: HTTPConnection) -> BlobStore:
    """The configured blob store, made once per app (tests may set app.state.blobs beforehand)."""
    store: BlobStore | None = getattr(connection.app.state, "blobs", None)
    if store is None:
        settings: Settings = connection.app.state.settings
        store = blob_store_for(settings)
        connection.app.state.blobs = store
    return store


async def _live_events(connection: HTTPConnection) -> EventBus | None:
    # async, so FastAPI does not hop to a worker thread for it
    return live_events(connection)


LiveEvents = Annotated[EventBus | None, Depends(_live_events)]
Blobs = Annotated[BlobStore, Depends(blob_store)]


# ---- consultations -----------------------------------------------------------------------------------


@router.post("/api/care/consultations", status_code=201, response_model=ConsultationOut)
async def open_consultation(
    body: FromAppointmentIn, session: SessionDep, principal: CurrentPrincipal
) -> ConsultationOut:
    """Opens the consultation of a confirmed booking; asking again answers the same one."""
    return await service.open_from_appointment(
        session=session, principal=principal, appointment_id=body.appointment_id, urgency=body.urgency
    )


@router.get("/api/care/consultations", response_model=list[ConsultationOut])
async def list_consultations(session: SessionDep, principal: CurrentPrincipal) -> list[ConsultationOut]:
    return await service.history(session=session, principal=principal)


@router.get("/api/care/consultations/queue", response_model=QueueOut)
async def doctor_queue(session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal) -> QueueOut:
    return await service.doctor_queue(session=session, settings=settings, principal=principal)


@router.get("/api/care/consultations/{consultation_id}", response_model=ConsultationOut)
async def get_consultation(
    consultation_id: RecordId, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> ConsultationOut:
    return await service.get_consultation(
        session=session, settings=settings, principal=principal, consultation_id=consultation_id
    )


async def _move(
    session: Any, principal: Any, events: EventBus | None, consultation_id: int, target: Status
) -> ConsultationOut:
    return await service.move(
        session=session, principal=principal, consultation_id=consultation_id, target=target, events=events
    )


@router.post("/api/care/consultations/{consultation_id}/start", response_model=ConsultationOut)
async def start(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal, events: LiveEvents
) -> ConsultationOut:
    """The doctor starts a waiting consultation (接诊)."""
    return await _move(session, principal, events, consultation_id, Status.in_progress)


@router.post("/api/care/consultations/{consultation_id}/complete", response_model=ConsultationOut)
async def complete(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal, events: LiveEvents
) -> ConsultationOut:
    return await _move(session, principal, events, consultation_id, Status.completed)


@router.post("/api/care/consultations/{consultation_id}/cancel", response_model=ConsultationOut)
async def cancel(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal, events: LiveEvents
) -> ConsultationOut:
    return await _move(session, principal, events, consultation_id, Status.cancelled)


@router.post("/api/care/consultations/{consultation_id}/no-show", response_model=ConsultationOut)
async def no_show(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal, events: LiveEvents
) -> ConsultationOut:
    return await _move(session, principal, events, consultation_id, Status.no_show)


# ---- chat over HTTP ----------------------------------------------------------------------------------


@router.get("/api/care/consultations/{consultation_id}/messages", response_model=list[MessageOut])
async def list_messages(
    consultation_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[MessageOut]:
    return await service.messages(
        session=session, principal=principal, consultation_id=consultation_id, after=after
    )


@router.post("/api/care/consultations/{consultation_id}/messages", status_code=201, response_model=MessageOut)
async def send_message(
    consultation_id: RecordId,
    body: MessageIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    events: LiveEvents,
) -> Response:
    """Stores a message; a resend with a stored client id answers 200 with the stored one."""
    message, created = await service.send_message(
        session=session,
        principal=principal,
        consultation_id=consultation_id,
        body=body.body,
        client_msg_id=body.client_msg_id,
        events=events,
    )
    return JSONResponse(message.model_dump(mode="json"), status_code=201 if created else 200)


@router.post("/api/care/consultations/{consultation_id}/read")
async def mark_read(
    consultation_id: RecordId,
    body: ReadIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    events: LiveEvents,
) -> dict[str, int | None]:
    moved = await service.read_receipt(
        session=session, principal=principal, consultation_id=consultation_id, seq=body.seq, events=events
    )
    return {"read_seq": moved}


# ---- attachments -------------------------------------------------------------------------------------


async def _body_up_to(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it passes the limit (never read whole into memory first)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise service.errors.AttachmentTooLarge(max_bytes=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise service.errors.AttachmentTooLarge(max_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/api/care/consultations/{consultation_id}/attachments", status_code=201, response_model=MessageOut
)
async def upload_attachment(
    consultation_id: RecordId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    blobs: Blobs,
    events: LiveEvents,
    file_name: FileNameHeader = None,
    client_msg_id: ClientMsgHeader = None,
) -> MessageOut:
    """The file is the raw request body; its name (URL-encoded) in X-File-Name is only a label."""
    data = await _body_up_to(request, settings.attachment_max_bytes)
    return await service.add_attachment(
        session=session,
        settings=settings,
        blobs=blobs,
        principal=principal,
        consultation_id=consultation_id,
        data=data,
        file_name=unquote(file_name) if file_name else None,
        client_msg_id=client_msg_id,
        events=events,
    )


@router.get("/api/care/consultations/{consultation_id}/attachments/{attachment_id}")
async def download_attachment(
    consultation_id: RecordId,
    attachment_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    blobs: Blobs,
) -> Response:
    data, meta = await service.read_attachment(
        session=session,
        blobs=blobs,
        principal=principal,
        consultation_id=consultation_id,
        attachment_id=attachment_id,
    )
    return Response(
        data,
        media_type=meta.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Disposition": "inline" if meta.content_type.startswith("image/") else "attachment",
        },
    )


# ---- calls -------------------------------------------------------------------------------------------


@router.get("/api/care/ice-servers", response_model=IceOut)
async def ice_servers(settings: SettingsDep, principal: CurrentPrincipal) -> IceOut:
    return service.ice_servers(settings=settings, principal=principal)


@router.get("/api/care/consultations/{consultation_id}/calls", response_model=list[CallOut])
async def list_calls(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> list[CallOut]:
    return await service.calls(session=session, principal=principal, consultation_id=consultation_id)


@router.post("/api/care/consultations/{consultation_id}/calls", status_code=201, response_model=CallOut)
async def start_call(
    consultation_id: RecordId,
    body: CallIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    events: LiveEvents,
) -> CallOut:
    return await service.start_call(
        session=session, principal=principal, consultation_id=consultation_id, mode=body.mode, events=events
    )


@router.post("/api/care/consultations/{consultation_id}/calls/answer", response_model=CallOut)
async def answer_call(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal, events: LiveEvents
) -> CallOut:
    return await service.answer_call(
        session=session, principal=principal, consultation_id=consultation_id, events=events
    )


@router.post("/api/care/consultations/{consultation_id}/calls/end", response_model=CallOut)
async def end_call(
    consultation_id: RecordId, session: SessionDep, principal: CurrentPrincipal, events: LiveEvents
) -> CallOut:
    return await service.end_call(
        session=session, principal=principal, consultation_id=consultation_id, events=events
    )


# ---- quick questions ---------------------------------------------------------------------------------


@router.post("/api/care/quick-questions", status_code=201, response_model=QuickQuestionOut)
async def ask(body: QuickQuestionIn, session: SessionDep, principal: CurrentPrincipal) -> QuickQuestionOut:
    return await service.ask_quick_question(session=session, principal=principal, data=body)


@router.get("/api/care/quick-questions/mine", response_model=list[QuickQuestionOut])
async def my_questions(session: SessionDep, principal: CurrentPrincipal) -> list[QuickQuestionOut]:
    return await service.my_questions(session=session, principal=principal)


@router.get("/api/care/quick-questions/offered", response_model=list[QuickQuestionOut])
async def offered(session: SessionDep, principal: CurrentPrincipal) -> list[QuickQuestionOut]:
    return await service.offered_questions(session=session, principal=principal)


@router.post(
    "/api/care/quick-questions/{question_id}/accept", status_code=201, response_model=ConsultationOut
)
async def accept(question_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> ConsultationOut:
    return await service.accept_question(session=session, principal=principal, question_id=question_id)


@router.post("/api/care/quick-questions/{question_id}/cancel", response_model=QuickQuestionOut)
async def cancel_question(
    question_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> QuickQuestionOut:
    return await service.cancel_question(session=session, principal=principal, question_id=question_id)


# ---- the WebSocket -----------------------------------------------------------------------------------


class _Room:
    """One open socket: sends are serialised, and `last` is the highest sequence this client has."""

    def __init__(self, websocket: WebSocket, joined: service.Joined, after: int) -> None:
        self.websocket = websocket
        self.joined = joined
        self.last = after
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False, default=str))

    async def catch_up(self, db: Database) -> None:
        """Sends every stored message after `last`, in order, page by page."""
        while True:
            async with db.session() as session:
                page = await service.replay(
                    session=session, joined=self.joined, after=self.last, limit=_REPLAY_PAGE
                )
            for message in page:
                await self.send(message.frame())
                self.last = message.seq
            if len(page) < _REPLAY_PAGE:
                return

    async def forward(self, frame: dict[str, Any], db: Database) -> None:
        if frame.get("type") != "message":
            await self.send(frame)
            return
        seq = int(frame.get("seq", 0))
        if seq <= self.last:
            return  # already sent (replayed, or heard twice)
        if seq > self.last + 1:
            # A later number was published first; the earlier one is committed already (the
            # counter row lock orders commits), so the database fills the gap.
            await self.catch_up(db)
            return
        await self.send(frame)
        self.last = seq


async def _pump(room: _Room, events: EventBus, db: Database) -> None:
    """Live frames to the client; subscribes before each replay, re-reads after falling behind."""
    while True:
        async with events.subscribe(service.channel(room.joined.consultation_id)) as subscription:
            await room.catch_up(db)
            try:
                while True:
                    await room.forward(await subscription.get(), db)
            except Lagged:
                continue


async def _handle(room: _Room, frame: dict[str, Any], db: Database, events: EventBus) -> None:
    kind = frame.get("type")
    joined = room.joined
    if kind == "message":
        body = frame.get("body")
        client_msg_id = frame.get("client_msg_id")
        if not isinstance(body, str) or (client_msg_id is not None and not _valid_client_id(client_msg_id)):
            raise InvalidInput(field="body/client_msg_id")
        async with db.session() as session:
            message, created = await service.post_message(
                session=session, joined=joined, body=body, client_msg_id=client_msg_id, events=events
            )
        # Acknowledged only now that it is stored.
        await room.send(
            {"type": "ack", "client_msg_id": client_msg_id, "seq": message.seq, "duplicate": not created}
        )
    elif kind == "read":
        seq = frame.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**31:
            raise InvalidInput(field="seq")
        async with db.session() as session:
            await service.mark_read(session=session, joined=joined, seq=seq, events=events)
    elif kind == "signal":
        data = frame.get("data")
        if not isinstance(data, dict) or len(json.dumps(data)) > 64_000:
            raise InvalidInput(field="data")
        await service.relay_signal(joined=joined, data=data, events=events)
    elif kind == "ping":
        await room.send({"type": "pong", "last_seq": room.last})
    else:
        raise InvalidInput(field="type")


def _valid_client_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 64
        and all(ch.isascii() and (ch.isalnum() or ch in "_.:-") for ch in value)
    )


@router.websocket("/ws/care/consultations/{consultation_id}")
async def consultation_socket(
    websocket: WebSocket,
    consultation_id: RecordId,
    principal: WebSocketPrincipal,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> None:
    """The room's live channel.

    Server → client: `hello`, then every stored `message` after `after` in sequence order, then live
    `message`, `ack` (after the message is stored), `read`, `status`, `call`, `signal`, `error`.
    Client → server: `message` {body, client_msg_id}, `read` {seq}, `signal` {data}, `ping`.
    A client that reconnects with the last sequence it saw gets exactly what it missed.
    """
    db: Database = websocket.app.state.db
    events = live_events(websocket)
    language = "en" if websocket.query_params.get("lang", "").startswith("en") else "zh-CN"
    try:
        async with db.session() as session:
            joined = await service.join(session=session, principal=principal, consultation_id=consultation_id)
    except DomainError as error:
        await websocket.accept(subprotocol=getattr(websocket.state, "subprotocol", None))
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason=error.code)
        return
    await websocket.accept(subprotocol=getattr(websocket.state, "subprotocol", None))
    room = _Room(websocket, joined, after)
    await room.send(
        {
            "type": "hello",
            "side": joined.side.value,
            "consultation": joined.consultation.model_dump(mode="json"),
        }
    )
    if events is None:  # no live bus (an app not started): replay only
        await room.catch_up(db)
        await websocket.close()
        return
    pump = asyncio.create_task(_pump(room, events, db))
    listen = asyncio.create_task(_listen(room, db, events, language))
    watch = asyncio.create_task(close_when_signed_out(websocket))
    done, _ = await asyncio.wait({pump, listen, watch}, return_when=asyncio.FIRST_COMPLETED)
    for task in (pump, listen, watch):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if watch in done:
        with contextlib.suppress(Exception):
            await websocket.close(code=WS_1008_POLICY_VIOLATION, reason=SIGNED_OUT)
        return
    if pump in done and not pump.cancelled() and pump.exception() is not None:
        # The live side broke (the database or the bus): close, so the client resumes from its last seq.
        log.warning(
            "consultation %s socket closed after a live-path failure: %r", consultation_id, pump.exception()
        )
        with contextlib.suppress(Exception):
            await websocket.close(code=WS_1011_INTERNAL_ERROR, reason="resume")


async def _listen(room: _Room, db: Database, events: EventBus, language: str) -> None:
    """Frames from the client, one at a time, until it goes away."""
    try:
        while True:
            raw = await room.websocket.receive_text()
            try:
                frame = json.loads(raw)
                if not isinstance(frame, dict):
                    raise InvalidInput(field="frame")
                await _handle(room, frame, db, events)
            except DomainError as error:
                body = error.to_body(language)
                await room.send({"type": "error", "client_msg_id": _echo_id(raw), **body})
            except ValueError:
                await room.send({"type": "error", **InvalidInput(field="frame").to_body(language)})
    except WebSocketDisconnect:
        return


def _echo_id(raw: str) -> str | None:
    with contextlib.suppress(ValueError, AttributeError):
        value = json.loads(raw).get("client_msg_id")
        return value if _valid_client_id(value) else None
    return None
