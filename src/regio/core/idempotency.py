"""Idempotency-Key support: a retried POST gets the first answer and acts no second time.

A key is scoped to the caller (user or institution client) and the route, and kept 24 hours.
The writing service claims the key inside its own transaction (`claim`, an INSERT decided by
the unique constraint on (owner, route, key)) and records its answer there (`settle`), so the
change and the remembered answer commit together or not at all. A concurrent duplicate's INSERT
waits on that unique index (PostgreSQL) or on the single writer (SQLite) and then finds the
committed answer, which it returns (`Replay`). Refusals (4xx) roll the change back; `remember`
then stores them in a transaction of their own, so a retry gets the same refusal. The same key
with a different body is refused with 422 `idempotency_key_reused`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from regio.config import Settings
from regio.core import jobs
from regio.core.access import Principal
from regio.core.db import Base, BigId, Database, UTCDateTime, transaction, utcnow
from regio.core.errors import DomainError, InvalidInput

KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 200
# Answers that depend on who asks or when, not on the request, are not remembered.
_NOT_REMEMBERED = frozenset({401, 403, 429})


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    message_en = "This Idempotency-Key was already used with a different request."
    message_zh = "该幂等键已用于另一个不同的请求。"


class InvalidIdempotencyKey(InvalidInput):
    code = "invalid_idempotency_key"
    message_en = "The Idempotency-Key header must be 1 to 200 visible ASCII characters."
    message_zh = "Idempotency-Key 请求头须为 1 至 200 个可见 ASCII 字符。"


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("owner", "route", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(40), nullable=False)  # "u:<user id>" or "c:<client id>"
    route: Mapped[str] = mapped_column(String(200), nullable=False)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    # NULL only inside the claiming transaction; nobody else ever sees it without an answer.
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    owner: str
    route: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any


class Replay(Exception):
    """Raised inside a service when the key was already answered; the caller returns `answer`."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer


def fingerprint(body: Any) -> str:
    """SHA-256 over the request's canonical JSON, so key order and spacing do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def owner_of(principal: Principal) -> str:
    if principal.client_id is not None:
        return f"c:{principal.client_id}"
    return f"u:{principal.user_id}"


def request_for(principal: Principal, *, route: str, key: str | None, body: Any) -> IdempotentRequest | None:
    """The scoped request for a key, or None when the caller sent no key (then nothing is remembered)."""
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(33 <= ord(ch) <= 126 for ch in key):
        raise InvalidIdempotencyKey()
    return IdempotentRequest(
        owner=owner_of(principal), route=route[:200], key=key, fingerprint=fingerprint(body)
    )


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _scope(request: IdempotentRequest) -> Any:
    return (
        IdempotencyRecord.owner == request.owner,
        IdempotencyRecord.route == request.route,
        IdempotencyRecord.key == request.key,
    )


async def _stored(session: AsyncSession, request: IdempotentRequest, now: datetime) -> Answer | None:
    row = (
        await session.execute(
            select(
                IdempotencyRecord.fingerprint, IdempotencyRecord.status_code, IdempotencyRecord.body
            ).where(*_scope(request), IdempotencyRecord.expires_at > now)
        )
    ).first()
    if row is None or row.status_code is None:
        return None
    if row.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused(key=request.key)
    return Answer(status=int(row.status_code), body=row.body)


async def find(
    session: AsyncSession, request: IdempotentRequest | None, *, now: datetime | None = None
) -> Answer | None:
    """The remembered answer to this key, if any (a cheap early look before doing any work)."""
    if request is None:
        return None
    return await _stored(session, request, now or utcnow())


async def _try_insert(
    session: AsyncSession, request: IdempotentRequest, now: datetime, status: int | None, body: Any
) -> bool:
    # A key past its 24 hours is free again: forget the old answer first.
    await session.execute(
        delete(IdempotencyRecord).where(*_scope(request), IdempotencyRecord.expires_at <= now)
    )
    inserted = await session.execute(
        _insert(session)(IdempotencyRecord)
        .values(
            owner=request.owner,
            route=request.route,
            key=request.key,
            fingerprint=request.fingerprint,
            status_code=status,
            body=body,
            created_at=now,
            expires_at=now + KEEP,
        )
        .on_conflict_do_nothing(index_elements=["owner", "route", "key"])
        .returning(IdempotencyRecord.id)
    )
    return inserted.first() is not None


async def claim(
    session: AsyncSession, request: IdempotentRequest | None, *, now: datetime | None = None
) -> None:
    """Inside the writing transaction: takes the key, or raises Replay / IdempotencyKeyReused."""
    if request is None:
        return
    now = now or utcnow()
    if await _try_insert(session, request, now, None, None):
        return
    answer = await _stored(session, request, now)
    if answer is None:  # cannot happen: the other transaction committed its answer with its claim
        raise RuntimeError("idempotency key claimed without an answer")
    raise Replay(answer)


async def settle(session: AsyncSession, request: IdempotentRequest | None, *, status: int, body: Any) -> None:
    """Inside the writing transaction, after the change: the answer a retry will get."""
    if request is None:
        return
    await session.execute(
        update(IdempotencyRecord).where(*_scope(request)).values(status_code=status, body=body)
    )


async def remember(
    session: AsyncSession, request: IdempotentRequest, answer: Answer, *, now: datetime | None = None
) -> Answer:
    """Stores a refusal in its own transaction; returns what is stored (another request's, if it won)."""
    now = now or utcnow()
    if session.in_transaction():
        await session.rollback()
    async with transaction(session):
        if await _try_insert(session, request, now, answer.status, answer.body):
            return answer
        stored = await _stored(session, request, now)
    return stored or answer


def should_remember(error: DomainError) -> bool:
    return error.status < 500 and error.status not in _NOT_REMEMBERED


async def run(
    session: AsyncSession,
    request: IdempotentRequest | None,
    action: Callable[[], Awaitable[Answer]],
    *,
    language: str = "zh-CN",
) -> Answer:
    """Runs `action` (a service call that claims and settles the key) and answers as the first time did."""
    if request is not None:
        early = await find(session, request)
        if early is not None:
            return early
    try:
        return await action()
    except Replay as replay:
        return replay.answer
    except DomainError as error:
        if request is None or not should_remember(error):
            raise
        # message_* follow the caller's language; the stored body is what the first caller saw
        answer = Answer(status=error.status, body=error.to_body(language))
        return await remember(session, request, answer)


async def prune(db: Database, settings: Settings) -> None:
    """Forgets keys past their 24 hours."""
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow()))


jobs.register("core.idempotency.prune", 3600, prune)
