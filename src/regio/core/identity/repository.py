"""Identity queries; the login counter updates are single conditional statements. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import UTCDateTime
from regio.core.identity.models import ApiClient, LoginSession, LoginThrottle, RoleAssignment, User


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(User.username == username))
    return result.scalar_one_or_none()


async def client_by_client_id(session: AsyncSession, client_id: str) -> ApiClient | None:
    result = await session.execute(select(ApiClient).where(ApiClient.client_id == client_id))
    return result.scalar_one_or_none()


async def client_by_id(session: AsyncSession, row_id: int) -> ApiClient | None:
    return await session.get(ApiClient, row_id)


async def grants_of_user(session: AsyncSession, user_id: int) -> list[RoleGrant]:
    result = await session.execute(
        select(RoleAssignment).where(RoleAssignment.user_id == user_id).order_by(RoleAssignment.id)
    )
    return [row.as_grant() for row in result.scalars()]


@dataclass(frozen=True)
class ActiveUser:
    """What a request needs of its user: who they are and every role they hold."""

    id: int
    username: str
    display_name: str
    grants: list[RoleGrant]


_USERS = User.__table__.c
_ASSIGNMENTS = RoleAssignment.__table__.c
# Built once, on the tables rather than the mapped classes: every API request runs it, and building
# an ORM query per request cost more than the database took to answer it.
_ACTIVE_USER_WITH_GRANTS = (
    select(
        _USERS.username,
        _USERS.display_name,
        _ASSIGNMENTS.role,
        _ASSIGNMENTS.scope_kind,
        _ASSIGNMENTS.scope_id,
    )
    .select_from(User.__table__.outerjoin(RoleAssignment.__table__, _ASSIGNMENTS.user_id == _USERS.id))
    .where(_USERS.id == bindparam("user_id"), _USERS.is_active.is_(True))
    .order_by(_ASSIGNMENTS.id)
)


async def active_user_with_grants(session: AsyncSession, user_id: int) -> ActiveUser | None:
    """The user and their grants in one round trip (every request pays it); None when gone or inactive."""
    rows = (await session.execute(_ACTIVE_USER_WITH_GRANTS, {"user_id": user_id})).all()
    if not rows:
        return None
    grants = [
        RoleGrant(role=Role(row.role), scope_kind=ScopeKind(row.scope_kind), scope_id=row.scope_id)
        for row in rows
        if row.role is not None
    ]
    return ActiveUser(id=user_id, username=rows[0].username, display_name=rows[0].display_name, grants=grants)


async def grants_of_client(session: AsyncSession, client_row_id: int) -> list[RoleGrant]:
    result = await session.execute(
        select(RoleAssignment)
        .where(RoleAssignment.api_client_id == client_row_id)
        .order_by(RoleAssignment.id)
    )
    return [row.as_grant() for row in result.scalars()]


def add_assignment(
    session: AsyncSession,
    grant: RoleGrant,
    *,
    user_id: int | None = None,
    api_client_id: int | None = None,
    granted_by_user_id: int | None = None,
) -> RoleAssignment:
    row = RoleAssignment(
        user_id=user_id,
        api_client_id=api_client_id,
        role=grant.role.value,
        scope_kind=grant.scope_kind.value,
        scope_id=grant.scope_id,
        granted_by_user_id=granted_by_user_id,
    )
    session.add(row)
    return row


async def remove_assignment(
    session: AsyncSession, grant: RoleGrant, *, user_id: int | None = None, api_client_id: int | None = None
) -> bool:
    holder = (
        RoleAssignment.user_id == user_id
        if user_id is not None
        else RoleAssignment.api_client_id == api_client_id
    )
    result = await session.execute(
        delete(RoleAssignment)
        .where(
            holder,
            RoleAssignment.role == grant.role.value,
            RoleAssignment.scope_kind == grant.scope_kind.value,
            RoleAssignment.scope_id == grant.scope_id,
        )
        .returning(RoleAssignment.id)
    )
    return result.first() is not None


@dataclass(frozen=True, slots=True)
class AttemptSlot:
    """What claiming a sign-in attempt tells the caller: whom to verify, and whether this try locks."""

    user_id: int
    password_hash: str
    is_active: bool
    failures: int
    locked_until: datetime | None


async def claim_login_attempt(
    session: AsyncSession, *, username: str, now: datetime, max_failures: int, lock: timedelta
) -> AttemptSlot | None:
    """Counts this attempt as a failure before the password is checked, in one conditional UPDATE.

    The WHERE refuses a locked account, so however many guesses race, at most max_failures
    reach the password check per lock period; success resets the counter afterwards.
    A lapsed lock starts the count afresh. None: unknown username or locked right now.
    """
    lapsed = and_(User.locked_until.is_not(None), User.locked_until <= now)
    new_count = case((lapsed, 1), else_=User.failed_logins + 1)
    result = await session.execute(
        update(User)
        .where(User.username == username, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(
            failed_logins=new_count,
            locked_until=case((new_count >= max_failures, literal(now + lock, UTCDateTime())), else_=None),
        )
        .returning(User.id, User.password_hash, User.is_active, User.failed_logins, User.locked_until)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    if row is None:
        return None
    return AttemptSlot(
        user_id=row[0], password_hash=row[1], is_active=row[2], failures=row[3], locked_until=row[4]
    )


async def record_login_success(session: AsyncSession, *, user_id: int, now: datetime) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    )


async def lock_state(session: AsyncSession, *, username: str) -> tuple[bool, datetime | None]:
    """Whether a user holds this username, and until when it is locked."""
    row = (await session.execute(select(User.locked_until).where(User.username == username))).first()
    return (False, None) if row is None else (True, row[0])


def _upsert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@dataclass(frozen=True, slots=True)
class NameAttempt:
    failures: int
    locked_until: datetime | None


async def claim_name_attempt(
    session: AsyncSession, *, key: str, now: datetime, max_failures: int, lock: timedelta
) -> NameAttempt | None:
    """claim_login_attempt for a username nobody holds: the same count and lock, in one upsert.

    The conflict WHERE refuses a locked row just as the users UPDATE does; None: locked now.
    """
    row = LoginThrottle
    lapsed = and_(row.locked_until.is_not(None), row.locked_until <= now)
    new_count = case((lapsed, 1), else_=row.failures + 1)
    locks_at = literal(now + lock, UTCDateTime())
    statement = (
        _upsert(session)(LoginThrottle)
        .values(
            key=key,
            failures=1,
            window_started_at=now,
            last_failure_at=now,
            locked_until=now + lock if max_failures <= 1 else None,
        )
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": new_count,
                "locked_until": case((new_count >= max_failures, locks_at), else_=None),
                "last_failure_at": literal(now, UTCDateTime()),
            },
            where=or_(row.locked_until.is_(None), row.locked_until <= now),
        )
        .returning(LoginThrottle.failures, LoginThrottle.locked_until)
    )
    result = (await session.execute(statement)).first()
    return None if result is None else NameAttempt(failures=result[0], locked_until=result[1])


async def throttle_lock(session: AsyncSession, *, key: str) -> datetime | None:
    result = await session.execute(select(LoginThrottle.locked_until).where(LoginThrottle.key == key))
    return result.scalar_one_or_none()


async def claim_address_attempt(
    session: AsyncSession, *, key: str, now: datetime, max_failures: int, window: timedelta
) -> datetime | None:
    """Counts one sign-in attempt from an address in its current window, in one upsert.

    A window older than `window` starts afresh. The conflict WHERE refuses once the window
    holds max_failures, however many attempts race. Returns the window's start, or None when
    its allowance is spent.
    """
    row = LoginThrottle
    lapsed = row.window_started_at <= literal(now - window, UTCDateTime())
    statement = (
        _upsert(session)(LoginThrottle)
        .values(key=key, failures=1, window_started_at=now, last_failure_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": case((lapsed, 1), else_=row.failures + 1),
                "window_started_at": case((lapsed, literal(now, UTCDateTime())), else_=row.window_started_at),
                "last_failure_at": literal(now, UTCDateTime()),
            },
            where=or_(lapsed, row.failures < max_failures),
        )
        .returning(LoginThrottle.window_started_at)
    )
    started: datetime | None = (await session.execute(statement)).scalar_one_or_none()
    return started


async def address_window(session: AsyncSession, *, key: str) -> datetime | None:
    result = await session.execute(select(LoginThrottle.window_started_at).where(LoginThrottle.key == key))
    return result.scalar_one_or_none()


async def release_address_attempt(session: AsyncSession, *, key: str, window_started_at: datetime) -> None:
    """Takes back an attempt that was not a failure (a success, or a refusal that checked nothing).

    Only within the window it was counted in: a window that started afresh owes it nothing.
    """
    await session.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.key == key,
            LoginThrottle.window_started_at == window_started_at,
            LoginThrottle.failures > 0,
        )
        .values(failures=LoginThrottle.failures - 1)
        .execution_options(synchronize_session=False)
    )


async def prune_throttles(
    session: AsyncSession, *, address_idle_since: datetime, name_idle_since: datetime, now: datetime
) -> int:
    """Forgets idle counters whose lock, if any, has lapsed; returns how many."""
    unlocked = or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now)
    idle = or_(
        and_(LoginThrottle.key.startswith("ip:"), LoginThrottle.last_failure_at <= address_idle_since),
        and_(LoginThrottle.key.startswith("name:"), LoginThrottle.last_failure_at <= name_idle_since),
    )
    result = await session.execute(
        delete(LoginThrottle).where(unlocked, idle).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def touch_client(session: AsyncSession, *, row_id: int, now: datetime) -> None:
    await session.execute(
        update(ApiClient)
        .where(ApiClient.id == row_id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def add_login_session(
    session: AsyncSession, *, token_hash: str, user_id: int, expires_at: datetime, ip: str, user_agent: str
) -> LoginSession:
    row = LoginSession(
        token_hash=token_hash, user_id=user_id, expires_at=expires_at, ip=ip[:64], user_agent=user_agent[:300]
    )
    session.add(row)
    return row


async def live_session_user(session: AsyncSession, *, token_hash: str, now: datetime) -> User | None:
    """The active user of an unrevoked, unexpired login session, or None."""
    result = await session.execute(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.token_hash == token_hash,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
            User.is_active.is_(True),
        )
    )
    return result.scalar_one_or_none()


async def revoke_session(session: AsyncSession, *, token_hash: str, now: datetime) -> int | None:
    """Revokes the session; returns its user id, or None when it was not live."""
    result = await session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(LoginSession.user_id)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    return None if row is None else int(row[0])
