"""Transactional outbox: messages written with the change that causes them, delivered later with retries.

`enqueue` only adds a row to the caller's transaction, so a rolled-back change sends nothing and a
committed one survives a crash. Workers claim due messages in batches (PostgreSQL:
`SELECT … FOR UPDATE SKIP LOCKED`, then mark them delivering under a lease; SQLite: one conditional
UPDATE under its single writer), hand each to the in-process handlers registered for its topic
and/or POST it as a signed webhook to its target URL, and then mark it delivered, or schedule a
retry with exponential backoff and jitter, or give up (dead) after `settings.outbox_max_attempts`.
A worker that dies mid-delivery leaves a lease that expires, and another worker picks the message
up; delivery is therefore at least once, and handlers and receivers deduplicate by message id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import JSON, Index, Integer, String, Text, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from regio.config import Settings
from regio.core import webhooks
from regio.core.db import Base, BigId, Database, UTCDateTime, utcnow
from regio.core.jsonable import json_default

log = logging.getLogger("regio.outbox")

PENDING = "pending"
DELIVERING = "delivering"
DELIVERED = "delivered"
DEAD = "dead"

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
DEFAULT_LEASE_SECONDS = 60.0
WEBHOOK_TIMEOUT_SECONDS = 10.0
_ERROR_LIMIT = 2000


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(100), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    target_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # Who holds the current claim, and until when; a claim past its expiry may be taken over.
    lease_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)


@dataclass(frozen=True, slots=True)
class Message:
    """What a handler receives; `id` is stable across retries, so handlers can deduplicate on it."""

    id: int
    topic: str
    payload: dict[str, Any]
    target_url: str | None
    attempt: int
    created_at: datetime
    lease_token: str


Handler = Callable[[Message], Awaitable[None]]

_handlers: dict[str, list[Handler]] = {}


def register_handler(topic: str, handler: Handler) -> None:
    """Delivers every message of `topic` to `handler` in-process (at least once; make it idempotent)."""
    registered = _handlers.setdefault(topic, [])
    if handler not in registered:
        registered.append(handler)


def unregister_handler(topic: str, handler: Handler) -> None:
    registered = _handlers.get(topic, [])
    if handler in registered:
        registered.remove(handler)


def registered_handlers() -> Mapping[str, Sequence[Handler]]:
    return _handlers


def enqueue(
    session: AsyncSession, topic: str, payload: dict[str, Any], *, target_url: str | None = None
) -> None:
    """Writes a message in the caller's transaction; a worker delivers it after commit."""
    # Serialise now: a payload that cannot be sent should fail the change that made it, not the worker.
    plain = json.loads(json.dumps(payload, default=json_default, ensure_ascii=False, allow_nan=False))
    session.add(OutboxMessage(topic=topic, payload=plain, target_url=target_url, next_attempt_at=utcnow()))


# --- transports -------------------------------------------------------------------------------


class Transport(Protocol):
    """Where webhooks go out; returns the HTTP status, raises on a network failure."""

    async def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> int: ...


class HttpxTransport:
    """The real thing: one pooled httpx client for every webhook."""

    def __init__(
        self, client: httpx.AsyncClient | None = None, *, timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS
    ) -> None:
        # No redirects: a signed delivery goes to the URL it was addressed to, nowhere else.
        self._client = client or httpx.AsyncClient(follow_redirects=False, timeout=timeout_seconds)

    async def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> int:
        response = await self._client.post(url, content=content, headers=dict(headers))
        return response.status_code

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class SentRequest:
    url: str
    content: bytes
    headers: dict[str, str]


@dataclass
class MemoryTransport:
    """For tests: records each POST and answers from a per-URL script (an int status or an exception)."""

    sent: list[SentRequest] = field(default_factory=list)
    script: dict[str, list[int | Exception]] = field(default_factory=dict)
    default_status: int = 200

    async def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> int:
        self.sent.append(SentRequest(url=url, content=content, headers=dict(headers)))
        answers = self.script.get(url)
        answer: int | Exception = answers.pop(0) if answers else self.default_status
        if isinstance(answer, Exception):
            raise answer
        return answer


# --- claiming and delivering ------------------------------------------------------------------


def backoff_seconds(
    attempt: int, *, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS
) -> float:
    """Delay before retry number `attempt`+1: doubling from `base`, capped, with jitter in its upper half."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    # Jitter spreads the retries of messages that failed together (a receiver was down).
    return ceiling / 2 + random.random() * ceiling / 2


def _claimable(now: datetime, max_attempts: int) -> Any:
    return or_(
        and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        and_(
            OutboxMessage.status == DELIVERING,
            OutboxMessage.lease_expires_at <= now,
            OutboxMessage.attempts < max_attempts,
        ),
    )


async def claim(
    *,
    db: Database,
    settings: Settings,
    batch_size: int = 50,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    now: datetime | None = None,
) -> list[Message]:
    """Takes up to `batch_size` due messages under a fresh lease; no other worker gets them meanwhile."""
    now = now or utcnow()
    token = uuid.uuid4().hex
    lease_until = now + timedelta(seconds=lease_seconds)
    claimed = (
        OutboxMessage.id,
        OutboxMessage.topic,
        OutboxMessage.payload,
        OutboxMessage.target_url,
        OutboxMessage.attempts,
        OutboxMessage.created_at,
    )
    async with db.sessionmaker() as session, session.begin():
        # A worker died holding the last allowed attempt: nothing will retry it, so it is dead.
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == DELIVERING,
                OutboxMessage.lease_expires_at <= now,
                OutboxMessage.attempts >= settings.outbox_max_attempts,
            )
            .values(status=DEAD, lease_token=None, last_error="lease expired on the last allowed attempt")
            .execution_options(synchronize_session=False)
        )
        mark = (
            update(OutboxMessage)
            .values(
                status=DELIVERING,
                attempts=OutboxMessage.attempts + 1,
                lease_token=token,
                lease_expires_at=lease_until,
                updated_at=now,
            )
            .returning(*claimed)
            .execution_options(synchronize_session=False)
        )
        due = (
            select(OutboxMessage.id)
            .where(_claimable(now, settings.outbox_max_attempts))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            ids = list((await session.execute(due.with_for_update(skip_locked=True))).scalars())
            if not ids:
                return []
            rows = (await session.execute(mark.where(OutboxMessage.id.in_(ids)))).all()
        else:
            # One statement under SQLite's single writer: the choice and the claim cannot interleave.
            rows = (
                await session.execute(
                    mark.where(
                        OutboxMessage.id.in_(due.scalar_subquery()),
                        _claimable(now, settings.outbox_max_attempts),
                    )
                )
            ).all()
    messages = [
        Message(
            id=row.id,
            topic=row.topic,
            payload=row.payload,
            target_url=row.target_url,
            attempt=row.attempts,
            created_at=row.created_at,
            lease_token=token,
        )
        for row in rows
    ]
    return sorted(messages, key=lambda message: message.id)


async def complete(*, db: Database, message: Message, now: datetime | None = None) -> bool:
    """Marks a claimed message delivered; False if its lease was lost to another worker meanwhile."""
    now = now or utcnow()
    async with db.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.lease_token == message.lease_token,
                OutboxMessage.status == DELIVERING,
            )
            .values(
                status=DELIVERED,
                delivered_at=now,
                lease_token=None,
                lease_expires_at=None,
                last_error=None,
                updated_at=now,
            )
        )
    return bool(getattr(result, "rowcount", 0))


async def fail(
    *, db: Database, settings: Settings, message: Message, error: str, now: datetime | None = None
) -> str | None:
    """Schedules a retry with backoff, or gives up (dead) after the last attempt; returns the new status."""
    now = now or utcnow()
    dead = message.attempt >= settings.outbox_max_attempts
    values: dict[str, Any] = {
        "status": DEAD if dead else PENDING,
        "lease_token": None,
        "lease_expires_at": None,
        "last_error": error[:_ERROR_LIMIT],
        "updated_at": now,
    }
    if not dead:
        values["next_attempt_at"] = now + timedelta(seconds=backoff_seconds(message.attempt))
    async with db.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.lease_token == message.lease_token,
                OutboxMessage.status == DELIVERING,
            )
            .values(**values)
        )
    if not getattr(result, "rowcount", 0):
        return None
    if dead:
        log.error(
            "outbox message %d (%s) is dead after %d attempts: %s",
            message.id,
            message.topic,
            message.attempt,
            error,
        )
    return str(values["status"])


def webhook_body(message: Message) -> bytes:
    """The JSON a receiver gets: the message id (stable across retries), its topic, time and data."""
    envelope = {
        "id": message.id,
        "topic": message.topic,
        "created_at": message.created_at.astimezone(UTC).isoformat(),
        "data": message.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


async def _post_webhook(message: Message, *, settings: Settings, transport: Transport) -> None:
    assert message.target_url is not None
    body = webhook_body(message)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=settings.webhook_secret),
        "Regio-Delivery": str(message.id),
        "Regio-Topic": message.topic,
        "Regio-Attempt": str(message.attempt),
        "User-Agent": "Regio-Webhooks/1",
    }
    status = await transport.post(message.target_url, content=body, headers=headers)
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status} from {message.target_url}")


class DeliveryFailed(Exception):
    """The receiver answered, but not with success; the message is retried."""


async def deliver(
    message: Message,
    *,
    settings: Settings,
    transport: Transport,
    handlers: Mapping[str, Sequence[Handler]] | None = None,
) -> None:
    """Runs every handler of the topic and posts the webhook; raises if any of them failed."""
    registered = list((handlers if handlers is not None else _handlers).get(message.topic, ()))
    if not registered and message.target_url is None:
        raise DeliveryFailed(f"no handler registered for topic {message.topic!r} and no target URL")
    for handler in registered:
        await handler(message)
    if message.target_url is not None:
        await _post_webhook(message, settings=settings, transport=transport)


async def deliver_due(
    *,
    db: Database,
    settings: Settings,
    transport: Transport,
    handlers: Mapping[str, Sequence[Handler]] | None = None,
    batch_size: int = 50,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    concurrency: int = 10,
    now: datetime | None = None,
) -> int:
    """Claims one batch of due messages and delivers it; returns how many were claimed."""
    messages = await claim(
        db=db, settings=settings, batch_size=batch_size, lease_seconds=lease_seconds, now=now
    )
    gate = asyncio.Semaphore(concurrency)

    async def one(message: Message) -> None:
        async with gate:
            try:
                await deliver(message, settings=settings, transport=transport, handlers=handlers)
            except Exception as exc:
                # One bad message must not stop the others: it is retried on its own schedule.
                log.warning(
                    "outbox message %d (%s) attempt %d failed: %s",
                    message.id,
                    message.topic,
                    message.attempt,
                    exc,
                )
                await fail(
                    db=db, settings=settings, message=message, error=f"{type(exc).__name__}: {exc}", now=now
                )
                return
            if not await complete(db=db, message=message, now=now):
                log.warning(
                    "outbox message %d was delivered after its lease passed to another worker", message.id
                )

    await asyncio.gather(*(one(message) for message in messages))
    return len(messages)
