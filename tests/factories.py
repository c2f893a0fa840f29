"""Shared test helpers: users, API clients, principals and sign-in headers, fast enough for bulk use.

    user = await make_user(db, roles=[RoleGrant(Role.doctor, ScopeKind.hospital, "7")])
    headers = await login_headers(client, user.username)        # real POST /api/auth/token
    headers = token_headers(settings, user)                     # signed directly, no password check
    principal = principal_for(user, [RoleGrant(Role.patient)])  # for calling services directly
    client_id, secret = await make_api_client(db, grants=[...])

Every user made here has the password TEST_PASSWORD unless told otherwise; its argon2id hash
is computed once per process, so making fifty users does not hash fifty times.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from functools import lru_cache

import httpx

from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database, utcnow
from regio.core.identity import passwords, service, tokens
from regio.core.identity.models import User
from regio.core.identity.service import CSRF_HEADER, SESSION_COOKIE

TEST_PASSWORD = "correct-horse-42"

_serial = itertools.count(1)


@lru_cache(maxsize=32)
def password_hash_for(password: str) -> str:
    """argon2id hash of a password, computed once per process per password."""
    return passwords.hash_sync(password)


def _as_grant(role: Role | RoleGrant) -> RoleGrant:
    return role if isinstance(role, RoleGrant) else RoleGrant(Role(role), ScopeKind.platform, "")


async def make_user(
    db: Database,
    *,
    username: str | None = None,
    password: str = TEST_PASSWORD,
    roles: Iterable[Role | RoleGrant] = (),
    display_name: str | None = None,
    password_hash: str | None = None,
    active: bool = True,
) -> User:
    """A committed user with the given roles (a bare Role means platform scope)."""
    name = username or f"user{next(_serial)}"
    async with db.session() as session:
        user = await service.create_user_with_hash(
            session=session,
            username=name,
            password_hash=password_hash or password_hash_for(password),
            display_name=display_name or f"测试用户 {name}",
            grants=[_as_grant(role) for role in roles],
        )
        if not active:
            async with session.begin():
                user.is_active = False
    return user


async def make_users(db: Database, count: int, **kwargs: object) -> list[User]:
    """Several users with the same roles, one shared precomputed hash."""
    return [await make_user(db, **kwargs) for _ in range(count)]  # type: ignore[arg-type]


def principal_for(user: User, grants: Iterable[Role | RoleGrant] = ()) -> Principal:
    """The Principal a user acts as, for calling services directly (grants are not read back)."""
    return Principal(
        user_id=user.id,
        username=user.username,
        grants=frozenset(_as_grant(g) for g in grants),
        display_name=user.display_name,
    )


async def make_api_client(
    db: Database, grants: Iterable[Role | RoleGrant] = (), *, name: str | None = None
) -> tuple[str, str]:
    """A committed API client of an institution; returns (client_id, secret)."""
    async with db.session() as session:
        client, secret = await service.create_api_client(
            session=session, name=name or f"机构系统 {next(_serial)}", grants=[_as_grant(g) for g in grants]
        )
    return client.client_id, secret


async def login_headers(
    client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD
) -> dict[str, str]:
    """Signs in through POST /api/auth/token and returns the Authorization header."""
    response = await client.post("/api/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def client_headers(client: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    """Signs an API client in through POST /api/auth/client-token; returns the Authorization header."""
    response = await client.post(
        "/api/auth/client-token", json={"client_id": client_id, "client_secret": secret}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def token_headers(settings: Settings, user: User, *, ttl_seconds: int = 3600) -> dict[str, str]:
    """An Authorization header signed directly, skipping the password check (for many users)."""
    token = tokens.issue_access_token(
        secret_key=settings.secret_key,
        subject=f"u:{user.id}",
        now=int(utcnow().timestamp()),
        ttl_seconds=ttl_seconds,
    )
    return {"Authorization": f"Bearer {token}"}


async def browser_login(
    client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD
) -> dict[str, str]:
    """Signs in through the /login form like a browser; the client keeps the session cookie.

    Returns the CSRF header a cookie-authenticated API write must carry.
    """
    form = await client.get("/login")
    assert form.status_code == 200, form.text
    csrf = csrf_from_html(form.text)
    response = await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf, "next": "/account"}
    )
    assert response.status_code == 303, response.text
    assert client.cookies.get(SESSION_COOKIE)
    account = await client.get("/account")
    assert account.status_code == 200, account.text
    return {CSRF_HEADER: csrf_from_html(account.text)}


def csrf_from_html(html: str) -> str:
    """The CSRF token of the first form on a page."""
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
