"""CSRF for pages: the token every form carries, the CsrfForm dependency, and per-request set-up.

Signed-in users' forms carry a token bound to their session; visitors' forms carry a
double-submit token that must equal their signed CSRF cookie. JSON writes authenticated by
cookie bring the session token in the X-CSRF-Token header instead (checked in service).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Depends, Request
from starlette.responses import Response

from regio.config import Settings
from regio.core.identity import service
from regio.core.identity.errors import CsrfFailed
from regio.core.identity.service import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE

# Paths whose requests never render forms, so visitors get no CSRF cookie there.
_NO_FORM_PREFIXES = ("/api/", "/static/", "/healthz", "/openapi.json", "/docs", "/redoc")


async def verify_csrf_form(request: Request) -> None:
    """Refuses a form POST whose csrf_token field is not this browser's token (403 csrf_failed)."""
    settings: Settings = request.app.state.settings
    presented: object = None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        presented = form.get(CSRF_FIELD)
    if not isinstance(presented, str):
        presented = request.headers.get(service.CSRF_HEADER)
    if not service.csrf_valid(
        settings=settings,
        presented=presented,
        session_cookie=request.cookies.get(SESSION_COOKIE),
        visitor_cookie=request.cookies.get(CSRF_COOKIE),
    ):
        raise CsrfFailed()


# For page POST handlers: `@router.post("/x", dependencies=[CsrfForm])`. Not optional: the
# architecture test fails for any unsafe route outside /api/ that lacks it.
CsrfForm = Depends(verify_csrf_form)


@contextmanager
def request_scope(request: Request, settings: Settings) -> Iterator[str | None]:
    """Puts the form token on request.state.csrf_token for the request's duration.

    Yields a new visitor cookie value the response must set, or None.
    """
    path = request.url.path
    marker = service.csrf_checked_by_form.set(not path.startswith("/api/"))
    try:
        session_cookie = request.cookies.get(SESSION_COOKIE)
        visitor = request.cookies.get(CSRF_COOKIE)
        new_cookie = None
        if not session_cookie and not path.startswith(_NO_FORM_PREFIXES):
            if not service.visitor_csrf_cookie_valid(settings=settings, value=visitor):
                visitor = new_cookie = service.new_visitor_csrf_cookie(settings=settings)
        request.state.csrf_token = service.csrf_token_for(
            settings=settings, session_cookie=session_cookie, visitor_cookie=visitor
        )
        yield new_cookie
    finally:
        # The test client runs the app in the caller's task; never leave the mark behind.
        service.csrf_checked_by_form.reset(marker)


def set_visitor_cookie(response: Response, value: str, settings: Settings) -> None:
    response.set_cookie(
        CSRF_COOKIE, value, httponly=True, samesite="lax", secure=settings.cookie_secure, path="/"
    )
