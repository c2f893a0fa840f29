"""Identity services: accounts, sign-in with throttling, tokens, sessions, API clients, role grants."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regio.config import Settings
from regio.core import audit, jobs
from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind
from regio.core.access import SYSTEM as SYSTEM  # the platform's own principal, kept importable from here
from regio.core.db import Database, transaction, utcnow
from regio.core.errors import DomainError
from regio.core.identity import passwords, policies, repository, scopes, tokens
from regio.core.identity.errors import (
    AccountInvalid,
    ClientNameInvalid,
    CsrfFailed,
    GrantExists,
    GrantHolderInvalid,
    GrantNotAllowed,
    GrantNotFound,
    HolderNotFound,
    InvalidCredentials,
    InvalidToken,
    LoginLocked,
    LoginThrottled,
    UsernameTaken,
)
from regio.core.identity.models import ApiClient, User
from regio.core.identity.schemas import TokenOut

SESSION_COOKIE = "regio_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_COOKIE = "regio_csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# Set by the web layer for page requests: their forms carry the CSRF token in a field that the
# CsrfForm dependency checks, so a cookie-authenticated page POST needs no header. Unset means
# strict: a cookie-authenticated unsafe request must bring the header.
csrf_checked_by_form: ContextVar[bool] = ContextVar("regio_csrf_checked_by_form", default=False)

# Pauses after a failed sign-in grow with the failure count: 0.1 s, 0.2 s, 0.4 s ... at most 1.6 s.
FAILURE_PAUSE_BASE_SECONDS = 0.1
FAILURE_PAUSE_MAX_SECONDS = 1.6
# How long the failures on a username nobody holds are remembered after the last one.
NAME_COUNTER_MEMORY = timedelta(days=30)


def failure_pause_seconds(failures: int) -> float:
    """How long a failed sign-in is held before it answers; slows guessing without locking anyone out."""
    return min(FAILURE_PAUSE_BASE_SECONDS * 2 ** max(0, failures - 1), FAILURE_PAUSE_MAX_SECONDS)


# ---------------------------------------------------------------------------------------------
# Principals


async def principal_for_user(session: AsyncSession, user: User) -> Principal:
    """The principal a user acts as, with every role they hold."""
    grants = await repository.grants_of_user(session, user.id)
    return Principal(
        user_id=user.id, username=user.username, grants=frozenset(grants), display_name=user.display_name
    )


async def principal_for_client(session: AsyncSession, client: ApiClient) -> Principal:
    """The principal an institution's system acts as: no person, only the client's own grants."""
    grants = await repository.grants_of_client(session, client.id)
    return Principal(
        user_id=None,
        username=f"client:{client.client_id}",
        grants=frozenset(grants),
        client_id=client.id,
        display_name=client.name,
    )


async def authenticate_request(
    *,
    session: AsyncSession,
    settings: Settings,
    authorization: str | None,
    session_cookie: str | None,
    method: str,
    csrf_header: str | None,
) -> Principal:
    """Bearer token first, else the session cookie (CSRF-checked when unsafe), else ANONYMOUS."""
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise InvalidToken(reason="malformed")
        return await principal_from_access_token(
            session=session, settings=settings, token=credentials.strip()
        )
    if session_cookie:
        user = await repository.live_session_user(
            session, token_hash=tokens.hash_token(session_cookie), now=utcnow()
        )
        if user is None:
            return ANONYMOUS
        if method.upper() not in SAFE_METHODS and not csrf_checked_by_form.get():
            if not tokens.csrf_matches(
                csrf_header, secret_key=settings.secret_key, session_token=session_cookie, visitor_cookie=None
            ):
                raise CsrfFailed()
        return await principal_for_user(session, user)
    return ANONYMOUS


async def principal_from_access_token(*, session: AsyncSession, settings: Settings, token: str) -> Principal:
    """Checks signature and expiry, then that the user or client still exists and is active."""
    try:
        claims = tokens.read_access_token(
            token, secret_key=settings.secret_key, now=int(utcnow().timestamp())
        )
    except tokens.TokenInvalid as exc:
        raise InvalidToken(reason=exc.reason) from exc
    kind, _, raw_id = claims.subject.partition(":")
    if not raw_id.isdigit():
        raise InvalidToken(reason="malformed")
    if kind == "u":
        # Read afresh on every request, so deactivating a user or removing a grant counts at once.
        user = await repository.active_user_with_grants(session, int(raw_id))
        if user is None:
            raise InvalidToken(reason="inactive")
        return Principal(
            user_id=user.id,
            username=user.username,
            grants=frozenset(user.grants),
            display_name=user.display_name,
        )
    if kind == "c":
        client = await repository.client_by_id(session, int(raw_id))
        if client is None or not client.is_active:
            raise InvalidToken(reason="inactive")
        return await principal_for_client(session, client)
    raise InvalidToken(reason="malformed")


def redirect_target(target: str | None, default: str = "/me") -> str:
    """Where to send someone after sign-in: the asked-for page if it is on this site, else default."""
    return policies.safe_next(target, default)


def csrf_token_for(*, settings: Settings, session_cookie: str | None, visitor_cookie: str | None) -> str:
    """The token a page puts in its forms: the session's when signed in, else the visitor cookie."""
    if session_cookie:
        return tokens.session_csrf_token(secret_key=settings.secret_key, session_token=session_cookie)
    return visitor_cookie or ""


def csrf_valid(
    *, settings: Settings, presented: str | None, session_cookie: str | None, visitor_cookie: str | None
) -> bool:
    """True when a form's token is the session's or matches a genuine visitor cookie."""
    return tokens.csrf_matches(
        presented,
        secret_key=settings.secret_key,
        session_token=session_cookie,
        visitor_cookie=visitor_cookie,
    )


def new_visitor_csrf_cookie(*, settings: Settings) -> str:
    """A fresh signed double-submit cookie value for a visitor without one."""
    return tokens.new_visitor_csrf_cookie(secret_key=settings.secret_key)


def visitor_csrf_cookie_valid(*, settings: Settings, value: str | None) -> bool:
    """True when a visitor's CSRF cookie carries our signature."""
    return tokens.visitor_csrf_cookie_valid(value, secret_key=settings.secret_key)


# ---------------------------------------------------------------------------------------------
# Accounts


def _field_problem_details(problems: dict[str, DomainError]) -> dict[str, dict[str, str]]:
    return {
        field: {
            "code": problem.code,
            "message_zh": problem.message("zh"),
            "message_en": problem.message("en"),
        }
        for field, problem in problems.items()
    }


def _raise_problems(problems: dict[str, DomainError]) -> None:
    if not problems:
        return
    if len(problems) == 1:
        field, problem = next(iter(problems.items()))
        problem.details.setdefault("field", field)
        raise problem
    raise AccountInvalid(fields=_field_problem_details(problems))


async def create_user(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    display_name: str,
    grants: Iterable[RoleGrant] = (),
    actor: Principal | None = None,
) -> User:
    """Creates an account with an argon2id password hash and the given roles."""
    _raise_problems(
        policies.new_account_problems(username=username, display_name=display_name, password=password)
    )
    password_hash = await passwords.hash_password(password)
    return await create_user_with_hash(
        session=session,
        username=username,
        password_hash=password_hash,
        display_name=display_name,
        grants=grants,
        actor=actor,
    )


async def create_user_with_hash(
    *,
    session: AsyncSession,
    username: str,
    password_hash: str,
    display_name: str,
    grants: Iterable[RoleGrant] = (),
    actor: Principal | None = None,
) -> User:
    """Creates an account from an already computed hash (bulk loaders and tests hash once)."""
    problems = {
        field: problem
        for field, problem in (
            ("username", policies.username_problem(username)),
            ("display_name", policies.display_name_problem(display_name)),
        )
        if problem is not None
    }
    grants = list(dict.fromkeys(grants))
    for grant in grants:
        problem = policies.grant_scope_problem(grant)
        if problem is not None:
            problems["grants"] = problem
    _raise_problems(problems)
    name = policies.normalize_username(username)
    try:
        async with transaction(session):
            user = User(username=name, display_name=display_name.strip(), password_hash=password_hash)
            session.add(user)
            await session.flush()
            for grant in grants:
                repository.add_assignment(
                    session, grant, user_id=user.id, granted_by_user_id=actor.user_id if actor else None
                )
            await session.flush()
            await audit.record(
                session,
                actor or SYSTEM,
                "user.create",
                object_type="user",
                object_id=user.id,
                details={"username": name, "roles": [_grant_dict(g) for g in grants]},
            )
    except IntegrityError as exc:
        raise UsernameTaken(field="username", username=name) from exc
    return user


async def sign_up(
    *,
    session: AsyncSession,
    settings: Settings,
    username: str,
    display_name: str,
    password: str,
    confirm: str,
    ip: str = "",
    user_agent: str = "",
) -> tuple[User, str]:
    """Self-service account for a patient, signed in at once; returns the user and session token."""
    _raise_problems(
        policies.new_account_problems(
            username=username, display_name=display_name, password=password, confirm=confirm
        )
    )
    password_hash = await passwords.hash_password(password, concurrency=settings.password_hash_concurrency)
    user = await create_user_with_hash(
        session=session,
        username=username,
        password_hash=password_hash,
        display_name=display_name,
        grants=[RoleGrant(Role.patient, ScopeKind.platform, "")],
        actor=None,
    )
    token = await start_session(session=session, settings=settings, user=user, ip=ip, user_agent=user_agent)
    return user, token


# ---------------------------------------------------------------------------------------------
# Sign-in


async def login(
    *, session: AsyncSession, settings: Settings, username: str, password: str, ip: str = ""
) -> User:
    """Checks a password under the failure limits; raises InvalidCredentials, LoginLocked or LoginThrottled.

    Every failure counts twice: against the username (a user's row, or for a name nobody holds
    a throttle row that counts and locks the same way, so the answers never tell who exists)
    and against the client address (`ip`, when known), whatever the usernames tried.
    """
    name = policies.normalize_username(username)
    now = utcnow()
    concurrency = settings.password_hash_concurrency
    address = await _claim_address(session=session, settings=settings, ip=ip, now=now)
    if policies.username_problem(name) is not None:
        # No account can hold this name, so the database is not asked about it at all.
        await _verify_nothing(password, concurrency)
        await asyncio.sleep(failure_pause_seconds(1))
        raise InvalidCredentials()
    max_failures = max(1, settings.login_max_failures)
    lock = timedelta(minutes=settings.login_lock_minutes)
    nameless: repository.NameAttempt | None = None
    locked_until: datetime | None = None
    async with transaction(session):
        slot = await repository.claim_login_attempt(
            session, username=name, now=now, max_failures=max_failures, lock=lock
        )
        if slot is None:
            exists, locked_until = await repository.lock_state(session, username=name)
            if not exists:
                key = tokens.throttle_key(secret_key=settings.secret_key, kind="name", value=name)
                nameless = await repository.claim_name_attempt(
                    session, key=key, now=now, max_failures=max_failures, lock=lock
                )
                if nameless is None:
                    locked_until = await repository.throttle_lock(session, key=key)
    if slot is None and nameless is None and locked_until is not None and locked_until > now:
        # Refused before any password was checked: no failure to count against the address.
        await _release_address(session, address)
        raise LoginLocked(retry_after_seconds=math.ceil((locked_until - now).total_seconds()))
    if slot is not None:
        matches = await passwords.verify_password(slot.password_hash, password, concurrency=concurrency)
        if matches and slot.is_active:
            async with transaction(session):
                await repository.record_login_success(session, user_id=slot.user_id, now=utcnow())
                user = await repository.user_by_id(session, slot.user_id)
                assert user is not None
                await session.refresh(user)
            await _release_address(session, address)
            return user
        failures, locked_until = slot.failures, slot.locked_until
    else:
        # A name nobody holds: spend one verification anyway, so timing does not tell either.
        await _verify_nothing(password, concurrency)
        failures, locked_until = (nameless.failures, nameless.locked_until) if nameless else (1, None)
    if locked_until is not None:
        # This failure used the last attempt: say so now rather than on the next try.
        raise LoginLocked(retry_after_seconds=math.ceil((locked_until - utcnow()).total_seconds()))
    await asyncio.sleep(failure_pause_seconds(failures))
    raise InvalidCredentials()


async def _verify_nothing(password: str, concurrency: int) -> None:
    dummy = await asyncio.to_thread(passwords.dummy_hash)
    await passwords.verify_password(dummy, password, concurrency=concurrency)


async def _claim_address(
    *, session: AsyncSession, settings: Settings, ip: str, now: datetime
) -> tuple[str, datetime] | None:
    """Counts this attempt against the client address, or raises LoginThrottled when it has spent its window."""
    if not ip:
        return None  # the CLI and other in-process callers have no address
    key = tokens.throttle_key(secret_key=settings.secret_key, kind="ip", value=ip)
    window = timedelta(minutes=settings.login_ip_window_minutes)
    started: datetime | None
    async with transaction(session):
        started = await repository.claim_address_attempt(
            session, key=key, now=now, max_failures=settings.login_max_failures_per_ip, window=window
        )
        if started is None:
            window_start = await repository.address_window(session, key=key) or now
    if started is None:
        retry = math.ceil((window_start + window - now).total_seconds())
        raise LoginThrottled(retry_after_seconds=max(1, retry))
    return key, started


async def _release_address(session: AsyncSession, address: tuple[str, datetime] | None) -> None:
    if address is None:
        return
    async with transaction(session):
        await repository.release_address_attempt(session, key=address[0], window_started_at=address[1])


async def prune_login_throttles(db: Database, settings: Settings) -> None:
    """Forgets sign-in counters nobody has failed on for a while (a timed job)."""
    now = utcnow()
    async with db.sessionmaker() as session, session.begin():
        await repository.prune_throttles(
            session,
            address_idle_since=now - timedelta(minutes=settings.login_ip_window_minutes),
            # Long, because forgetting a name's failures sooner than a user's row would tell them apart.
            name_idle_since=now - NAME_COUNTER_MEMORY,
            now=now,
        )


jobs.register("core.identity.prune_login_throttles", 3600, prune_login_throttles)


def issue_user_token(*, settings: Settings, user: User) -> TokenOut:
    """A signed bearer token for a person."""
    ttl = settings.access_token_minutes * 60
    token = tokens.issue_access_token(
        secret_key=settings.secret_key, subject=f"u:{user.id}", now=int(utcnow().timestamp()), ttl_seconds=ttl
    )
    return TokenOut(access_token=token, expires_in=ttl)


async def token_for_password(
    *, session: AsyncSession, settings: Settings, username: str, password: str, ip: str = ""
) -> TokenOut:
    """API sign-in of a person: username and password for a bearer token."""
    user = await login(session=session, settings=settings, username=username, password=password, ip=ip)
    async with transaction(session):
        principal = await principal_for_user(session, user)
        await audit.record(
            session,
            principal,
            "auth.token",
            object_type="user",
            object_id=user.id,
            details={"via": "password"},
        )
    return issue_user_token(settings=settings, user=user)


async def token_for_client(
    *, session: AsyncSession, settings: Settings, client_id: str, client_secret: str
) -> TokenOut:
    """API sign-in of an institution's system: client id and secret for a bearer token."""
    async with transaction(session):
        client = await repository.client_by_client_id(session, client_id)
        # Compare against a hash even for an unknown id, so the answer takes the same path.
        stored = client.secret_hash if client is not None else tokens.hash_token("no-such-client")
        if not tokens.client_secret_matches(client_secret, stored) or client is None or not client.is_active:
            raise InvalidCredentials()
        await repository.touch_client(session, row_id=client.id, now=utcnow())
        principal = await principal_for_client(session, client)
        await audit.record(
            session, principal, "auth.token", object_type="api_client", object_id=client.id, details={}
        )
    ttl = settings.access_token_minutes * 60
    token = tokens.issue_access_token(
        secret_key=settings.secret_key,
        subject=f"c:{client.id}",
        now=int(utcnow().timestamp()),
        ttl_seconds=ttl,
    )
    return TokenOut(access_token=token, expires_in=ttl)


async def start_session(
    *, session: AsyncSession, settings: Settings, user: User, ip: str = "", user_agent: str = ""
) -> str:
    """Opens a server-side login session; returns the cookie token (only its hash is stored)."""
    token = tokens.new_session_token()
    async with transaction(session):
        repository.add_login_session(
            session,
            token_hash=tokens.hash_token(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(hours=settings.session_hours),
            ip=ip,
            user_agent=user_agent,
        )
        principal = await principal_for_user(session, user)
        await audit.record(
            session, principal, "auth.login", object_type="user", object_id=user.id, details={"ip": ip}
        )
    return token


async def sign_in(
    *,
    session: AsyncSession,
    settings: Settings,
    username: str,
    password: str,
    ip: str = "",
    user_agent: str = "",
) -> tuple[User, str]:
    """Page sign-in: checks the password and opens a session; returns the user and cookie token."""
    user = await login(session=session, settings=settings, username=username, password=password, ip=ip)
    token = await start_session(session=session, settings=settings, user=user, ip=ip, user_agent=user_agent)
    return user, token


async def sign_out(*, session: AsyncSession, session_token: str | None) -> None:
    """Ends a login session for good: the same cookie no longer signs anyone in."""
    if not session_token:
        return
    async with transaction(session):
        user_id = await repository.revoke_session(
            session, token_hash=tokens.hash_token(session_token), now=utcnow()
        )
        if user_id is not None:
            user = await repository.user_by_id(session, user_id)
            principal = await principal_for_user(session, user) if user else SYSTEM
            await audit.record(session, principal, "auth.logout", object_type="user", object_id=user_id)


# ---------------------------------------------------------------------------------------------
# API clients and role grants


async def create_api_client(
    *,
    session: AsyncSession,
    name: str,
    grants: Iterable[RoleGrant] = (),
    actor: Principal | None = None,
) -> tuple[ApiClient, str]:
    """Registers an institution's system; returns it and its secret, which is shown only this once."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ClientNameInvalid()
    grants = list(dict.fromkeys(grants))
    for grant in grants:
        problem = policies.grant_scope_problem(grant)
        if problem is not None:
            raise problem
    client_id, secret = tokens.new_client_credentials()
    async with transaction(session):
        client = ApiClient(client_id=client_id, name=name, secret_hash=tokens.hash_token(secret))
        session.add(client)
        await session.flush()
        for grant in grants:
            repository.add_assignment(
                session, grant, api_client_id=client.id, granted_by_user_id=actor.user_id if actor else None
            )
        await audit.record(
            session,
            actor or SYSTEM,
            "api_client.create",
            object_type="api_client",
            object_id=client.id,
            details={"client_id": client_id, "name": name, "roles": [_grant_dict(g) for g in grants]},
        )
    return client, secret


def _grant_dict(grant: RoleGrant) -> dict[str, str]:
    return {"role": grant.role.value, "scope_kind": grant.scope_kind.value, "scope_id": grant.scope_id}


async def _require_may_manage(session: AsyncSession, principal: Principal, grant: RoleGrant) -> None:
    problem = policies.grant_scope_problem(grant)
    if problem is not None:
        raise problem
    place = None
    if grant.scope_kind != ScopeKind.platform:
        place = await scopes.place_of(session, grant.scope_kind, grant.scope_id)
    if not policies.may_manage_grant(principal, grant, scope_region=place):
        raise GrantNotAllowed(
            role=grant.role.value, scope_kind=grant.scope_kind.value, scope_id=grant.scope_id
        )


async def _holder(
    session: AsyncSession, username: str | None, client_id: str | None
) -> tuple[str, int, str | None, str | None]:
    if (username is None) == (client_id is None):
        raise GrantHolderInvalid()
    if username is not None:
        user = await repository.user_by_username(session, policies.normalize_username(username))
        if user is None:
            raise HolderNotFound(username=username)
        return "user", user.id, user.username, None
    assert client_id is not None
    client = await repository.client_by_client_id(session, client_id)
    if client is None:
        raise HolderNotFound(client_id=client_id)
    return "api_client", client.id, None, client.client_id


async def grant_role(
    *,
    session: AsyncSession,
    principal: Principal,
    grant: RoleGrant,
    username: str | None = None,
    client_id: str | None = None,
) -> RoleGrant:
    """Gives a user or API client a role in a scope, if the principal may; audited."""
    if (username is None) == (client_id is None):
        raise GrantHolderInvalid()
    try:
        async with transaction(session):
            await _require_may_manage(session, principal, grant)
            kind, holder_id, _, _ = await _holder(session, username, client_id)
            repository.add_assignment(
                session,
                grant,
                user_id=holder_id if kind == "user" else None,
                api_client_id=holder_id if kind == "api_client" else None,
                granted_by_user_id=principal.user_id,
            )
            await session.flush()
            await audit.record(
                session,
                principal,
                "role.grant",
                object_type=kind,
                object_id=holder_id,
                details=_grant_dict(grant),
            )
    except IntegrityError as exc:
        raise GrantExists(**_grant_dict(grant)) from exc
    return grant


async def revoke_role(
    *,
    session: AsyncSession,
    principal: Principal,
    grant: RoleGrant,
    username: str | None = None,
    client_id: str | None = None,
) -> None:
    """Takes a role in a scope away from a user or API client, if the principal may; audited."""
    if (username is None) == (client_id is None):
        raise GrantHolderInvalid()
    async with transaction(session):
        await _require_may_manage(session, principal, grant)
        kind, holder_id, _, _ = await _holder(session, username, client_id)
        removed = await repository.remove_assignment(
            session,
            grant,
            user_id=holder_id if kind == "user" else None,
            api_client_id=holder_id if kind == "api_client" else None,
        )
        if not removed:
            raise GrantNotFound(**_grant_dict(grant))
        await audit.record(
            session,
            principal,
            "role.revoke",
            object_type=kind,
            object_id=holder_id,
            details=_grant_dict(grant),
        )
