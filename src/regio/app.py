"""create_app(): routers, error handlers, middleware, static files and background work."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from regio import __version__
from regio.config import Settings, get_settings
from regio.core import apidocs, worker
from regio.core.context import RequestContext, current_request
from regio.core.db import Database
from regio.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
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

            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return render(request, "error.html", {"error": error}, status_code=error.status)
    response = JSONResponse(error.to_body(language), status_code=error.status)
    retry_after = error.details.get("retry_after_seconds")
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(max(1, retry_after))
    return response


def _jsonable(value: Any) -> Any:
    """Validation errors may echo raw input (bytes, objects); keep only what JSON can say."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


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


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    # ID numbers and phones never reach a log in clear, whichever handler writes it.
    install_log_masking()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(settings.database_url)
        app.state.db = db
        stop = asyncio.Event()
        background: asyncio.Task[None] | None = None
        if settings.run_background:
            background = asyncio.create_task(worker.run_loops(db=db, settings=settings, stop=stop))
        try:
            yield
        finally:
            stop.set()
            if background is not None:
                with suppress(asyncio.CancelledError):
                    await asyncio.wait_for(background, timeout=10)
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

    @app.middleware("http")
    async def request_context(request: Request, call_next: Any) -> Response:
        language = negotiate(
            request.headers.get("accept-language"),
            cookie=request.cookies.get(LANGUAGE_COOKIE),
            query=request.query_params.get("lang"),
        )
        request.state.language = language
        forwarded = request.headers.get("x-forwarded-for", "")
        ip = forwarded.split(",")[0].strip() if forwarded else (request.client.host if request.client else "")
        context = RequestContext(
            request_id=request.headers.get("x-request-id") or uuid.uuid4().hex,
            ip=ip,
            user_agent=request.headers.get("user-agent", "")[:300],
            language=language,
        )
        token = current_request.set(context)
        try:
            response: Response = await call_next(request)
        finally:
            current_request.reset(token)
        response.headers["X-Request-ID"] = context.request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.query_params.get("lang"):
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
        return response

    @app.middleware("http")
    async def csrf_tokens(request: Request, call_next: Any) -> Response:
        # Every page gets a CSRF token for its forms; visitors also get the signed cookie it pairs with.
        with identity_csrf.request_scope(request, settings) as visitor_cookie:
            response: Response = await call_next(request)
        if visitor_cookie:
            identity_csrf.set_visitor_cookie(response, visitor_cookie, settings)
        return response

    install_error_handlers(app)
    apidocs.mount_assets(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    # Imported here so that importing regio.app stays cheap for the CLI.
    from regio.care.patients import api as patients_api
    from regio.care.patients import pages as patients_pages
    from regio.care.registry import api as registry_api
    from regio.care.registry import pages as registry_pages
    from regio.core import audit_api, health
    from regio.core.identity import api as identity_api
    from regio.core.identity import pages as identity_pages
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
        web_pages,
    ):
        app.include_router(module.router)
