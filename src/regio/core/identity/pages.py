"""HTML routes of identity: sign in, sign out, sign up, my account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from regio.config import Settings
from regio.core.deps import (
    CurrentPrincipal,
    OptionalPrincipal,
    Public,
    SessionDep,
    SettingsDep,
    client_ip,
)
from regio.core.errors import DomainError
from regio.core.identity import service
from regio.core.identity.csrf import CsrfForm
from regio.core.identity.errors import (
    AccountInvalid,
    InvalidCredentials,
    LoginLocked,
    LoginThrottled,
    UsernameTaken,
)
from regio.core.identity.schemas import ROLE_LABELS, SCOPE_LABELS
from regio.core.templating import render

router = APIRouter(tags=["identity pages"], include_in_schema=False)

FormText = Annotated[str, Form(max_length=1000)]


def _client_facts(request: Request) -> tuple[str, str]:
    return client_ip(request), request.headers.get("user-agent", "")


def _signed_in(response: Response, token: str, settings: Settings) -> Response:
    response.set_cookie(
        service.SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


def _field_errors(error: DomainError, language: str) -> dict[str, str]:
    """Messages by form field, so each is shown beside its own input."""
    zh = language.startswith("zh")
    if isinstance(error, AccountInvalid):
        fields: dict[str, dict[str, str]] = error.details.get("fields", {})
        return {name: item["message_zh" if zh else "message_en"] for name, item in fields.items()}
    field = str(error.details.get("field", "form"))
    return {field: error.message(language)}


@router.get("/login", dependencies=[Public])
async def login_form(request: Request, principal: OptionalPrincipal, next: str = "") -> Response:
    return render(request, "identity/login.html", {"next": service.redirect_target(next), "username": ""})


@router.post("/login", dependencies=[Public, CsrfForm])
async def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: FormText = "",
    password: FormText = "",
    next: FormText = "",
) -> Response:
    target = service.redirect_target(next)
    ip, agent = _client_facts(request)
    try:
        _, token = await service.sign_in(
            session=session, settings=settings, username=username, password=password, ip=ip, user_agent=agent
        )
    except (InvalidCredentials, LoginLocked, LoginThrottled) as error:
        return render(
            request,
            "identity/login.html",
            {"next": target, "username": username, "error": error.message(request.state.language)},
            status_code=error.status,
        )
    return _signed_in(RedirectResponse(target, status_code=303), token, settings)


@router.post("/logout", dependencies=[Public, CsrfForm])
async def logout(request: Request, session: SessionDep) -> Response:
    await service.sign_out(session=session, session_token=request.cookies.get(service.SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(service.SESSION_COOKIE, path="/")
    return response


@router.get("/signup", dependencies=[Public])
async def signup_form(request: Request, principal: OptionalPrincipal) -> Response:
    return render(request, "identity/signup.html", {"values": {}, "errors": {}})


@router.post("/signup", dependencies=[Public, CsrfForm])
async def signup_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: FormText = "",
    display_name: FormText = "",
    password: FormText = "",
    confirm: FormText = "",
) -> Response:
    ip, agent = _client_facts(request)
    try:
        _, token = await service.sign_up(
            session=session,
            settings=settings,
            username=username,
            display_name=display_name,
            password=password,
            confirm=confirm,
            ip=ip,
            user_agent=agent,
        )
    except (AccountInvalid, UsernameTaken) as error:
        return _signup_again(request, username, display_name, error)
    except DomainError as error:
        if error.status != 422:
            raise
        return _signup_again(request, username, display_name, error)
    return _signed_in(RedirectResponse("/me", status_code=303), token, settings)


def _signup_again(request: Request, username: str, display_name: str, error: DomainError) -> Response:
    context: dict[str, Any] = {
        "values": {"username": username, "display_name": display_name},
        "errors": _field_errors(error, request.state.language),
    }
    return render(request, "identity/signup.html", context, status_code=error.status)


@router.get("/account")
async def account(request: Request, principal: CurrentPrincipal) -> Response:
    grants = sorted(principal.grants, key=lambda g: (g.role.value, g.scope_kind.value, g.scope_id))
    return render(
        request,
        "identity/account.html",
        {"grants": grants, "role_labels": ROLE_LABELS, "scope_labels": SCOPE_LABELS},
    )
