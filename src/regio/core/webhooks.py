"""The one webhook signing scheme, in and out: HMAC-SHA256 over `timestamp.body`, with replay refusal.

Sent as `Regio-Signature: t=<unix seconds>,v1=<hex>`. A receiver refuses a signature that does
not match (`webhook_bad_signature`), a timestamp further than `settings.webhook_tolerance_seconds`
from now in either direction (`webhook_stale`), and a signed delivery it has accepted before
(`webhook_replayed`). Replays are remembered in `webhook_receipts`, whose unique key lets the
database, not Python, decide which of two simultaneous copies wins. Receipts older than the
tolerance window can be forgotten, because the staleness check refuses such deliveries anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Index, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from regio.config import Settings
from regio.core.db import Base, BigId, Database, UTCDateTime, utcnow
from regio.core.errors import Conflict, DomainError

log = logging.getLogger("regio.webhooks")

SIGNATURE_HEADER = "Regio-Signature"
SCHEME = "v1"


class WebhookBadSignature(DomainError):
    status = 401
    code = "webhook_bad_signature"
    message_en = "The webhook signature is missing or does not match."
    message_zh = "Webhook 签名缺失或不匹配。"


class WebhookStale(DomainError):
    status = 401
    code = "webhook_stale"
    message_en = "The webhook timestamp is outside the accepted window of {tolerance} seconds."
    message_zh = "Webhook 时间戳超出允许范围（{tolerance} 秒）。"


class WebhookReplayed(Conflict):
    code = "webhook_replayed"
    message_en = "This webhook delivery was already received."
    message_zh = "该 Webhook 请求已接收过，拒绝重放。"


class WebhookReceipt(Base):
    """A signed delivery already accepted; its key is unique so a replay cannot be accepted twice."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_webhook_receipts_received_at", "received_at"),)


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes | str, *, secret: str, timestamp: int | None = None) -> str:
    """The header value for a body: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`."""
    moment = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={moment},{SCHEME}={_digest(secret, moment, _as_bytes(body))}"


def parse_header(header: str | None) -> tuple[int, list[str]]:
    """Splits a signature header into its timestamp and v1 signatures; refuses anything malformed."""
    if not header:
        raise WebhookBadSignature(reason="missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookBadSignature(reason="malformed")
        if name == "t":
            if not value.isdigit() or len(value) > 12:
                raise WebhookBadSignature(reason="malformed")
            timestamp = int(value)
        elif name == SCHEME:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise WebhookBadSignature(reason="malformed")
    return timestamp, signatures


def check_signature(
    body: bytes | str, header: str | None, *, secret: str, tolerance_seconds: int, now: float | None = None
) -> tuple[int, str]:
    """Checks signature and freshness without touching the database; returns (timestamp, matched v1)."""
    timestamp, signatures = parse_header(header)
    expected = _digest(secret, timestamp, _as_bytes(body))
    # Several v1 values let a sender roll its secret over without a gap.
    matched = next((sig for sig in signatures if hmac.compare_digest(sig, expected)), None)
    if matched is None:
        raise WebhookBadSignature(reason="mismatch")
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > tolerance_seconds:
        raise WebhookStale(tolerance=tolerance_seconds, timestamp=timestamp)
    return timestamp, matched


def receipt_key(timestamp: int, signature: str) -> str:
    """What identifies one signed delivery: a retry is signed anew, a replay repeats both parts."""
    return hashlib.sha256(f"{timestamp}.{signature}".encode()).hexdigest()


async def verify(
    *,
    session: AsyncSession,
    settings: Settings,
    body: bytes | str,
    header: str | None,
    secret: str | None = None,
    now: float | None = None,
    sender: str = "",
) -> None:
    """Accepts a signed delivery once: refuses a bad signature, a stale timestamp and a replay, and
    logs each refusal with the sender's name (a forged or replayed delivery is worth an operator's eye).

    The receipt joins the caller's transaction: call this in the transaction that acts on the
    delivery, so that a delivery whose processing rolls back may be sent again.
    """
    try:
        await _accept(session=session, settings=settings, body=body, header=header, secret=secret, now=now)
    except DomainError as refusal:
        log.warning("webhook from %s refused: %s", sender or "a partner", refusal.code)
        raise


async def _accept(
    *,
    session: AsyncSession,
    settings: Settings,
    body: bytes | str,
    header: str | None,
    secret: str | None,
    now: float | None,
) -> None:
    timestamp, matched = check_signature(
        body,
        header,
        secret=secret or settings.webhook_secret,
        tolerance_seconds=settings.webhook_tolerance_seconds,
        now=now,
    )
    key = receipt_key(timestamp, matched)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(WebhookReceipt)
        .values(key=key, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(WebhookReceipt.id)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        raise WebhookReplayed(timestamp=timestamp)


async def prune_receipts(db: Database, settings: Settings) -> None:
    """Forgets receipts old enough that the staleness check alone refuses their replays."""
    horizon = utcnow() - timedelta(seconds=2 * settings.webhook_tolerance_seconds)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < horizon))


class SignedPostFailed(Exception):
    """A signed POST to a partner did not get a 2xx answer; the text names the cause, never the body."""


async def post_signed(
    client: httpx.AsyncClient, url: str, body: bytes, *, secret: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """POSTs a JSON body signed with the one scheme, for the partners we call (SMS, courier, payment)."""
    sent = {"Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: sign(body, secret=secret)}
    sent.update(headers or {})
    try:
        response = await client.post(url, content=body, headers=sent)
    except httpx.HTTPError as exc:
        raise SignedPostFailed(type(exc).__name__) from None
    if not 200 <= response.status_code < 300:
        raise SignedPostFailed(f"HTTP {response.status_code}")
    return response
