"""Annotated dependency aliases that keep routes short: SessionDep, CurrentPrincipal, Language."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated, NoReturn

from fastapi import Depends, Header, Path, Request, WebSocket, WebSocketException
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.status import WS_1008_POLICY_VIOLATION

from regio.config import Settings
from regio.core.access import ANONYMOUS, Principal
from regio.core.db import MAX_ID, Database
from regio.core.errors import NotAuthenticated
from regio.core.events import EventBus
from regio.core.identity import service as identity_service

log = logging.getLogger("regio.deps")


# The small dependencies are `async def` on purpose: FastAPI runs a plain `def` one in a worker
# thread, which cost every request a thread hop each.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    async with database.session() as session:
        yield session


def forwarded_client(
    peer: str, forwarded_for: str | None, trusted: Sequence[IPv4Network | IPv6Network]
) -> str:
    """The client's address: the direct peer, unless that peer is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read from the right (each proxy appends the
    address it saw) and the first hop that is not itself a trusted proxy is the client;
    anything left of it was written by the client and proves nothing.
    """

    def is_trusted(address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not trusted or not forwarded_for or not is_trusted(peer):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        hop = hop.strip()
        try:
            ip_address(hop)
        except ValueError:
            return client  # garbage in the chain: stop at the last hop a trusted proxy vouched for
        client = hop
        if not is_trusted(hop):
            return hop
    return client


def client_ip(request: Request) -> str:
    """Where the request came from, trusting X-Forwarded-For only from REGIO_TRUSTED_PROXIES."""
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else ""
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return forwarded_client(peer, forwarded, settings.trusted_proxy_networks)


async def get_events(request: HTTPConnection) -> EventBus:
    bus: EventBus = request.app.state.events
    return bus


async def get_language(request: Request) -> str:
    language: str = request.state.language
    return language


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EventsDep = Annotated[EventBus, Depends(get_events)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
Language = Annotated[str, Depends(get_language)]


async def optional_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    """Whoever the bearer token or session cookie names, or ANONYMOUS; never raises for absence."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await identity_service.authenticate_request(
        session=session,
        settings=settings,
        authorization=request.headers.get("authorization"),
        session_cookie=request.cookies.get(identity_service.SESSION_COOKIE),
        method=request.method,
        csrf_header=request.headers.get(identity_service.CSRF_HEADER),
    )
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal, Depends(optional_principal)],
) -> Principal:
    """The default for every route: a signed-in person or institution system, or 401."""
    if not principal.is_authenticated:
        raise NotAuthenticated()
    return principal


# Browsers cannot set headers on a WebSocket; a token travels as a subprotocol "bearer.<token>"
# beside the application's own subprotocol, or as an access_token query parameter.
WS_SUBPROTOCOL = "regio"
WS_TOKEN_PREFIX = "bearer."  # noqa: S105 (a prefix, not a secret)


def _origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Cookie sign-in on a WebSocket only from this site's own pages (no cross-site hijacking)."""
    origin = websocket.headers.get("origin")
    if not origin:
        return False
    origin = origin.rstrip("/")
    host = websocket.headers.get("host", "")
    allowed = {settings.base_url.rstrip("/"), f"http://{host}", f"https://{host}"}
    return origin in allowed


async def _refuse(websocket: WebSocket, code: str) -> NoReturn:
    # Accepted first, so the client sees a close frame with 1008 and the reason, not a bare HTTP 403.
    await websocket.accept(subprotocol=getattr(websocket.state, "subprotocol", None))
    raise WebSocketException(code=WS_1008_POLICY_VIOLATION, reason=code)


async def websocket_principal(websocket: WebSocket) -> Principal:
    """The signed-in person on a WebSocket, or the socket is closed with 1008 (policy violation).

    A bearer token (subprotocol or `access_token` query) needs no Origin check: a foreign page
    cannot read it. The session cookie is sent by the browser whatever page opens the socket,
    so it counts only when the Origin is this site.
    """
    cached: Principal | None = getattr(websocket.state, "principal", None)
    if cached is not None:
        return cached
    settings: Settings = websocket.app.state.settings
    database: Database = websocket.app.state.db
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    token = next((p[len(WS_TOKEN_PREFIX) :] for p in offered if p.startswith(WS_TOKEN_PREFIX)), None)
    token = token or websocket.query_params.get("access_token")
    cookie = websocket.cookies.get(identity_service.SESSION_COOKIE)
    websocket.state.subprotocol = WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None
    if not token and not (cookie and _origin_allowed(websocket, settings)):
        cookie = None
    try:
        principal = await _signed_in_as(database, settings, token=token, cookie=cookie)
    except NotAuthenticated as exc:
        await _refuse(websocket, exc.code)
    if not principal.is_authenticated:
        await _refuse(websocket, NotAuthenticated.code)
    websocket.state.principal = principal
    websocket.state.credential = (token, None if token else cookie)
    return principal


async def _signed_in_as(
    database: Database, settings: Settings, *, token: str | None, cookie: str | None
) -> Principal:
    async with database.session() as session:
        if token:
            return await identity_service.principal_from_access_token(
                session=session, settings=settings, token=token
            )
        if cookie:
            return await identity_service.authenticate_request(
                session=session,
                settings=settings,
                authorization=None,
                session_cookie=cookie,
                method="GET",
                csrf_header=None,
            )
    return ANONYMOUS


async def still_signed_in(websocket: WebSocket) -> bool:
    """Whether the sign-in a socket was opened with still names the same principal, grants and all.

    A socket outlives the request that checked it: signing out, an expired token, a deactivated
    user or a changed role must reach open sockets too, not only the next request.
    """
    opened: Principal | None = getattr(websocket.state, "principal", None)
    token, cookie = getattr(websocket.state, "credential", (None, None))
    if opened is None:
        return False
    settings: Settings = websocket.app.state.settings
    database: Database = websocket.app.state.db
    try:
        now = await _signed_in_as(database, settings, token=token, cookie=cookie)
    except NotAuthenticated:
        return False
    return now.is_authenticated and now == opened


async def close_when_signed_out(websocket: WebSocket) -> None:
    """Re-checks the socket's sign-in every REGIO_WS_RECHECK_SECONDS; returns once it no longer holds.

    Run beside a socket's own tasks; when it returns, the caller closes the socket with 1008.
    """
    settings: Settings = websocket.app.state.settings
    while True:
        await asyncio.sleep(settings.ws_recheck_seconds)
        try:
            if not await still_signed_in(websocket):
                return
        except Exception:
            log.warning("re-checking a WebSocket's sign-in failed", exc_info=True)


SIGNED_OUT = "signed_out"  # the close reason of a socket whose sign-in no longer holds


async def public_route() -> None:
    """Marks a route as deliberately open to visitors; the architecture test looks for it."""


RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal, Depends(optional_principal)]
WebSocketPrincipal = Annotated[Principal, Depends(websocket_principal)]
Public = Depends(public_route)
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]

__all__ = [
    "ANONYMOUS",
    "MAX_ID",
    "CurrentPrincipal",
    "DatabaseDep",
    "IdempotencyKeyHeader",
    "Language",
    "OptionalPrincipal",
    "Public",
    "RecordId",
    "SessionDep",
    "SettingsDep",
    "WebSocketPrincipal",
    "client_ip",
]
