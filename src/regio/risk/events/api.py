"""JSON routes of risk reports: report, update, cancel, merge, read, list, attach.

Thin: parse, call the service, and after the write committed run the spill-over and warning
journey (`regio.risk.flows.after_event_change`), whose answer is `affected`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from regio.config import Settings
from regio.core import idempotency
from regio.core.deps import (
    CurrentPrincipal,
    EventsDep,
    IdempotencyKeyHeader,
    RecordId,
    SessionDep,
    SettingsDep,
)
from regio.core.events import EventBus
from regio.risk import flows
from regio.risk.events import errors, service
from regio.risk.events.enums import Source, Status
from regio.risk.events.schemas import (
    AttachmentOut,
    CancelIn,
    ChangeOut,
    EventDetail,
    EventList,
    EventTypeOut,
    MergeIn,
    ReportIn,
    UpdateIn,
)
from regio.risk.geography.api import Holder
from regio.risk.geography.engine import IndexHolder

log = logging.getLogger("regio.risk.events")
router = APIRouter(prefix="/api/risk", tags=["events"])

StatusQuery = Annotated[Status | None, Query()]
Prefix = Annotated[str | None, Query(pattern=r"^\d{2,6}$")]


async def run_journey(
    *, session: AsyncSession, bus: EventBus, holder: IndexHolder, settings: Settings, event_id: int
) -> list[dict[str, Any]] | None:
    """The spill-over and warning journey of a committed version; None if it failed here.

    The version is stored and its outbox message will run the same journey again, so a failure
    here is logged and the report still answered as accepted, with the affected list pending.
    """
    try:
        return await flows.after_event_change(
            session=session, bus=bus, event_id=event_id, index_holder=holder, settings=settings
        )
    except Exception:
        log.exception("the journey of risk event %s failed after commit; the outbox will retry it", event_id)
        await session.rollback()
        return None


async def answer(
    *,
    session: AsyncSession,
    bus: EventBus,
    holder: IndexHolder,
    settings: Settings,
    event_id: int,
    possible_duplicates: list[int] | None = None,
) -> ChangeOut:
    """The committed version, with the jurisdictions the journey found affected."""
    affected = await run_journey(
        session=session, bus=bus, holder=holder, settings=settings, event_id=event_id
    )
    event = await service.get_event(session, event_id)
    return ChangeOut(
        event_id=event_id,
        event=service.to_out(event),
        possible_duplicates=possible_duplicates or [],
        affected=affected or [],
        affected_pending=affected is None,
    )


@router.get("/event-types", response_model=list[EventTypeOut])
async def event_types(principal: CurrentPrincipal) -> list[dict[str, str]]:
    return service.event_types()


@router.post("/events", status_code=201, response_model=ChangeOut)
async def report(
    body: ReportIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
    key: IdempotencyKeyHeader = None,
) -> Response:
    scoped = idempotency.request_for(
        principal, route="POST /api/risk/events", key=key, body=body.model_dump(mode="json")
    )
    first = await idempotency.find(session, scoped)
    if first is None:
        try:
            change = await service.report(
                session=session,
                principal=principal,
                holder=holder,
                data=body,
                source=Source.api,
                sender=service.default_sender(settings.base_url),
                duplicate_window_hours=settings.risk_duplicate_window_hours,
                idempotent=scoped,
            )
        except idempotency.Replay as replay:
            first = replay.answer
        else:
            out = await answer(
                session=session,
                bus=bus,
                holder=holder,
                settings=settings,
                event_id=change.event.id,
                possible_duplicates=change.possible_duplicates,
            )
            return JSONResponse(out.model_dump(mode="json"), status_code=201)
    stored: dict[str, Any] = first.body
    out = await answer(
        session=session,
        bus=bus,
        holder=holder,
        settings=settings,
        event_id=int(stored["event_id"]),
        possible_duplicates=list(stored.get("possible_duplicates", [])),
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=first.status)


@router.get("/events", response_model=EventList)
async def list_events(
    session: SessionDep,
    principal: CurrentPrincipal,
    status: StatusQuery = None,
    within: Prefix = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> EventList:
    rows = await service.list_events(
        session,
        principal=principal,
        statuses=[status.value] if status is not None else [Status.active.value],
        origin_prefixes=[within] if within else None,
        limit=limit,
        offset=offset,
    )
    return EventList(events=[service.to_out(row) for row in rows])


@router.get("/events/{event_id}", response_model=EventDetail)
async def read_event(
    event_id: RecordId, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> EventDetail:
    return await service.read_event(
        session=session,
        principal=principal,
        event_id=event_id,
        duplicate_window_hours=settings.risk_duplicate_window_hours,
    )


@router.post("/events/{event_id}/update", response_model=ChangeOut)
async def update(
    event_id: RecordId,
    body: UpdateIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
) -> ChangeOut:
    event = await service.update(
        session=session, principal=principal, holder=holder, event_id=event_id, data=body, source=Source.api
    )
    return await answer(session=session, bus=bus, holder=holder, settings=settings, event_id=event.id)


@router.post("/events/{event_id}/cancel", response_model=ChangeOut)
async def cancel(
    event_id: RecordId,
    body: CancelIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
) -> ChangeOut:
    event = await service.cancel(
        session=session,
        principal=principal,
        event_id=event_id,
        reason=body.reason,
        version=body.version,
        source=Source.api,
    )
    return await answer(session=session, bus=bus, holder=holder, settings=settings, event_id=event.id)


@router.post("/events/{event_id}/merge", response_model=ChangeOut)
async def merge(
    event_id: RecordId,
    body: MergeIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
) -> ChangeOut:
    event = await service.merge(
        session=session,
        principal=principal,
        event_id=event_id,
        into_id=body.into,
        reason=body.reason,
        duplicate_window_hours=settings.risk_duplicate_window_hours,
    )
    return await answer(session=session, bus=bus, holder=holder, settings=settings, event_id=event.id)


@router.post("/events/{event_id}/attachments", status_code=201, response_model=AttachmentOut)
async def attach(
    event_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
) -> AttachmentOut:
    limit = settings.risk_attachment_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise errors.AttachmentTooLarge(limit=limit)
    return await service.add_attachment(
        session=session,
        principal=principal,
        event_id=event_id,
        filename=file.filename or "attachment",
        content_type=file.content_type or "application/octet-stream",
        data=data,
        max_bytes=limit,
    )


@router.get("/events/{event_id}/attachments/{attachment_id}")
async def download(
    event_id: RecordId, attachment_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    attachment = await service.read_attachment(
        session=session, principal=principal, event_id=event_id, attachment_id=attachment_id
    )
    # served as a download, never rendered in the platform's origin
    return Response(
        attachment.data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(attachment.filename)}",
            "X-Attachment-Type": "".join(c for c in attachment.content_type if 32 <= ord(c) < 127),
        },
    )


def _quote(name: str) -> str:
    return quote(name, safe="")
