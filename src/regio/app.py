"""create_app(): routers, error handlers, middleware, static files and background work."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regio import __version__
from regio.config import Settings, get_settings
from regio.core import apidocs, events, worker
from regio.core.context import RequestContext, current_request
from regio.core.db import Database
from regio.core.deps import client_ip
from regio.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidCharacters,
    MalformedBody,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
from regio.core.guards import RefuseNulCharacters
from regio.core.i18n import LANGUAGE_COOKIE, negotiate
from regio.core.identity import csrf as identity_csrf
from regio.core.masking import install_log_masking
from regio.core.templating import STATIC_DIR, render

log = logging.getLogger("regio")


class MethodNotAllowed(DomainError):
    status = 405
    code = "method_not_allowed"
    message_en = "This method is not allowed here."
    message_zh = "不支持该请求方法。"


class InternalError(DomainError):
    status = 500
    code = "internal_error"
    message_en = "Something went wrong on our side; it has been logged."
    message_zh = "服务器内部错误，已记录，请稍后重试。"


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/healthz", "/openapi", "/feeds/", "/ws/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_response(request: Request, error: DomainError) -> Response:
    language = getattr(request.state, "language", "zh-CN")
    if _wants_html(request):
        if isinstance(error, NotAuthenticated):
            from fastapi.responses import RedirectResponse

            return RedirectResponse(f"/login?{urlencode({'next': _here(request)})}", status_code=303)
        return render(request, "error.html", {"error": error}, status_code=error.status)
    response = JSONResponse(error.to_body(language), status_code=error.status)
    retry_after = error.details.get("retry_after_seconds")
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(max(1, retry_after))
    return response


def _here(request: Request) -> str:
    """The page asked for, with its query, to come back to after signing in."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def _jsonable(value: Any) -> Any:
    """Validation errors may echo raw input (bytes, objects); keep only what JSON can say."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _cookie_header(name: str, value: str, **options: Any) -> tuple[bytes, bytes]:
    """A Set-Cookie header exactly as Starlette's Response.set_cookie writes it."""
    response = Response()
    response.set_cookie(name, value, **options)
    return response.raw_headers[-1]


class _RandomIds:
    """Random request ids of 32 hex digits, like uuid4().hex, drawn from the OS 4 KiB at a time.

    One system call per 256 requests instead of one each; used only on the event loop's thread.
    """

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        if self._at + 16 > len(self._pool):
            self._pool, self._at = os.urandom(4096), 0
        self._at += 16
        return self._pool[self._at - 16 : self._at].hex()


_request_ids = _RandomIds()


class RequestScope:
    """Pure ASGI middleware: the request's language, audit context and CSRF form token, and the headers
    every answer carries.

    Pure ASGI rather than Starlette's BaseHTTPMiddleware (`@app.middleware("http")`), which runs the
    application in a task of its own behind memory streams: that cost about a millisecond per request.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = request.query_params.get("lang")
        language = negotiate(
            request.headers.get("accept-language"), cookie=request.cookies.get(LANGUAGE_COOKIE), query=chosen
        )
        request.state.language = language
        context = RequestContext(
            request_id=request.headers.get("x-request-id") or _request_ids.next(),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", "")[:300],
            language=language,
        )
        # Every page gets a CSRF token for its forms; visitors also get the signed cookie it pairs with.
        with identity_csrf.request_scope(request, self.settings) as visitor_cookie:
            cookies: list[tuple[bytes, bytes]] = []
            if chosen:
                cookies.append(_cookie_header(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax"))
            if visitor_cookie:
                holder = Response()
                identity_csrf.set_visitor_cookie(holder, visitor_cookie, self.settings)
                cookies.append(holder.raw_headers[-1])

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableHeaders(scope=message)
                    headers["X-Request-ID"] = context.request_id
                    headers.setdefault("X-Content-Type-Options", "nosniff")
                    headers.setdefault("Referrer-Policy", "same-origin")
                    headers.raw.extend(cookies)
                await send(message)

            token = current_request.set(context)
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                current_request.reset(token)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return _error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {
                "loc": [str(part) for part in problem.get("loc", ())],
                "msg": problem.get("msg", ""),
                "type": problem.get("type", ""),
            }
            for problem in exc.errors()
        ]
        return _error_response(request, ValidationFailed(problems=_jsonable(problems)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error: DomainError
        if exc.status_code == 404:
            error = NotFound(path=request.url.path)
        elif exc.status_code == 405:
            error = MethodNotAllowed(method=request.method)
        elif exc.status_code == 401:
            error = NotAuthenticated()
        elif exc.status_code == 403:
            error = Forbidden()
        elif exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (JSON that is not UTF-8, a broken form).
            error = MalformedBody()
        else:
            error = DomainError(reason=str(exc.detail))
            error.status = exc.status_code  # type: ignore[misc]
        return _error_response(request, error)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> Response:
        # Services translate the races they expect; this is the safety net for the rest.
        log.warning("unexpected integrity error: %s", exc.orig)
        return _error_response(request, Conflict())

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(request, InternalError())


async def _ensure_drug_catalog(db: Database) -> None:
    """A fresh database gets the shipped drug catalog; `regio care import drugs` updates it later."""
    from regio.care.prescription import service as prescription_service

    try:
        loaded = await prescription_service.ensure_catalog(db)
    except Exception:
        # A database not migrated yet: the page that needs drugs says so; serving the rest goes on.
        logging.getLogger("regio").warning("the drug catalog could not be loaded", exc_info=True)
        return
    if loaded:
        logging.getLogger("regio").info("loaded %d drugs into the empty catalog", loaded)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    # ID numbers and phones never reach a log in clear, whichever handler writes it.
    install_log_masking()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(settings.database_url, pool_size=settings.database_pool_size)
        app.state.db = db
        app.state.events = events.bus_for(settings.redis_url)
        # China's boundaries are indexed in memory once, in the background, so start-up stays quick.
        from regio.risk.geography import service as geography_service
        from regio.risk.geography.engine import IndexHolder

        app.state.geography_index = IndexHolder()
        geography_warm = asyncio.create_task(
            geography_service.warm_index(sessionmaker=db.sessionmaker, holder=app.state.geography_index)
        )
        await _ensure_drug_catalog(db)
        stop = asyncio.Event()
        background: asyncio.Task[None] | None = None
        if settings.run_background:
            background = asyncio.create_task(worker.run_loops(db=db, settings=settings, stop=stop))
        try:
            yield
        finally:
            geography_warm.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await geography_warm
            stop.set()
            if background is not None:
                with suppress(asyncio.CancelledError):
                    await asyncio.wait_for(background, timeout=10)
            await app.state.events.close()
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="Regio",
        version=__version__,
        description="Regio Care (regional internet hospital) and Regio Risk (cross-jurisdiction risk coordination).",
        lifespan=lifespan,
        docs_url=None,  # served by core.apidocs from packaged assets, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    if database is not None:
        app.state.db = database

    async def refuse_nul(request: Request, where: str) -> Response:
        return _error_response(request, InvalidCharacters(where=where))

    # Added first, so it runs innermost: language, request id and CSRF token are set by then.
    app.add_middleware(RefuseNulCharacters, refuse=refuse_nul)

    # Added last, so it runs outermost: every answer, the NUL guard's refusals included, carries its headers.
    app.add_middleware(RequestScope, settings=settings)

    install_error_handlers(app)
    apidocs.mount_assets(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    # Imported here so that importing regio.app stays cheap for the CLI.
    from regio.care.booking import api as booking_api
    from regio.care.booking import pages as booking_pages
    from regio.care.consultation import api as consultation_api
    from regio.care.consultation import pages as consultation_pages
    from regio.care.patients import api as patients_api
    from regio.care.patients import pages as patients_pages
    from regio.care.payment import api as payment_api
    from regio.care.payment import pages as payment_pages
    from regio.care.prescription import api as prescription_api
    from regio.care.prescription import pages as prescription_pages
    from regio.care.records import api as records_api
    from regio.care.records import pages as records_pages
    from regio.care.registry import api as registry_api
    from regio.care.registry import pages as registry_pages
    from regio.care.reports import api as reports_api
    from regio.care.reports import pages as reports_pages
    from regio.care.reports import statistics_api
    from regio.care.scales import api as scales_api
    from regio.care.scales import pages as scales_pages
    from regio.care.triage import api as triage_api
    from regio.care.triage import pages as triage_pages
    from regio.core import audit_api, health
    from regio.core.identity import api as identity_api
    from regio.core.identity import pages as identity_pages
    from regio.risk.cap import api as cap_api
    from regio.risk.cap import pages as cap_pages
    from regio.risk.events import api as events_api
    from regio.risk.events import pages as events_pages
    from regio.risk.geography import api as geography_api
    from regio.risk.geography import pages as geography_pages
    from regio.risk.spillover import api as spillover_api
    from regio.risk.spillover import pages as spillover_pages
    from regio.risk.warnings import api as warnings_api
    from regio.risk.warnings import pages as warnings_pages
    from regio.web import pages as web_pages

    for module in (
        health,
        apidocs,
        audit_api,
        identity_api,
        identity_pages,
        registry_api,
        registry_pages,
        patients_api,
        patients_pages,
        triage_api,
        triage_pages,
        booking_api,
        booking_pages,
        scales_api,
        scales_pages,
        consultation_api,
        consultation_pages,
        records_api,
        records_pages,
        prescription_api,
        payment_api,
        payment_pages,
        prescription_pages,
        reports_api,
        reports_pages,
        statistics_api,
        geography_api,
        geography_pages,
        events_api,
        events_pages,
        cap_api,
        cap_pages,
        spillover_api,
        spillover_pages,
        warnings_api,
        warnings_pages,
        web_pages,
    ):
        app.include_router(module.router)
