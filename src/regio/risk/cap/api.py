"""Routes of CAP 1.2: alerts in (`POST /api/risk/cap`), alerts out, and public Atom feeds.

Feeds are public on purpose: CAP aggregators poll them without signing in. So they list only
reports marked scope Public and still active, and link to a public copy of each alert; a
restricted or private report never appears, and its alert answers 404 there, as if it did not
exist. Everything else needs a signed-in principal that the events policy lets read the report.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from regio.core.deps import CurrentPrincipal, EventsDep, Public, RecordId, SessionDep, SettingsDep
from regio.risk.cap import errors, service
from regio.risk.events import api as events_api
from regio.risk.geography.api import Holder
from regio.risk.geography.enums import Level

router = APIRouter(tags=["cap"])

CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
_ACCEPTED_TYPES = {CAP_MEDIA_TYPE, "application/xml", "text/xml"}
Adcode = Annotated[str, Path(pattern=r"^\d{6}$")]
Slug = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it grows past the limit (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.CapTooLarge(limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.CapTooLarge(limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/api/risk/cap", status_code=201)
async def receive_alert(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
) -> Response:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in _ACCEPTED_TYPES:
        raise errors.CapWrongContentType(content_type=media_type[:100])
    raw = await _body(request, settings.cap_max_bytes)
    imported = await service.import_alert(
        session=session,
        principal=principal,
        holder=holder,
        raw=raw,
        max_bytes=settings.cap_max_bytes,
        duplicate_window_hours=settings.risk_duplicate_window_hours,
    )
    out = await events_api.answer(
        session=session,
        bus=bus,
        holder=holder,
        settings=settings,
        event_id=imported.event.id,
        possible_duplicates=imported.possible_duplicates,
    )
    status = 201 if imported.event.msg_type == "alert" else 200
    return JSONResponse(out.model_dump(mode="json"), status_code=status)


@router.get("/api/risk/events/{event_id}/cap")
async def event_alert(
    event_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    holder: Holder,
) -> Response:
    document = await service.export_alert(
        session=session, principal=principal, holder=holder, event_id=event_id, base_url=settings.base_url
    )
    return Response(
        document,
        media_type=CAP_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="regio-event-{event_id}.xml"'},
    )


@router.get("/feeds/risk/events/{event_id}.cap", dependencies=[Public])
async def public_alert(
    event_id: RecordId, session: SessionDep, settings: SettingsDep, holder: Holder
) -> Response:
    document = await service.public_alert(
        session=session, holder=holder, event_id=event_id, base_url=settings.base_url
    )
    return Response(document, media_type=CAP_MEDIA_TYPE)


@router.get("/feeds/risk/jurisdictions/{level}/{adcode}.atom", dependencies=[Public])
async def jurisdiction_feed(
    level: Level, adcode: Adcode, session: SessionDep, settings: SettingsDep, holder: Holder
) -> Response:
    document = await service.jurisdiction_feed(
        session=session, holder=holder, level=level, adcode=adcode, base_url=settings.base_url
    )
    return Response(document, media_type=ATOM_MEDIA_TYPE)


@router.get("/feeds/risk/bodies/{slug}.atom", dependencies=[Public])
async def body_feed(slug: Slug, session: SessionDep, settings: SettingsDep, holder: Holder) -> Response:
    document = await service.body_feed(session=session, holder=holder, slug=slug, base_url=settings.base_url)
    return Response(document, media_type=ATOM_MEDIA_TYPE)
