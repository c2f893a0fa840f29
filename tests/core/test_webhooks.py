"""One signing scheme in and out: HMAC-SHA256 over `timestamp.body`; bad, stale and replayed ones refused."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from regio.config import Settings
from regio.core import webhooks
from regio.core.db import Database, utcnow
from regio.core.errors import DomainError
from regio.core.webhooks import WebhookBadSignature, WebhookReceipt, WebhookReplayed, WebhookStale

BODY = b'{"id":1,"topic":"warning.issued","data":{"level":2}}'


async def accept(
    db: Database,
    settings: Settings,
    body: bytes | str,
    header: str | None,
    *,
    secret: str | None = None,
    now: float | None = None,
) -> None:
    """A receiving route in miniature: verify and act in one transaction."""
    async with db.sessionmaker() as session, session.begin():
        await webhooks.verify(
            session=session, settings=settings, body=body, header=header, secret=secret, now=now
        )


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    header = webhooks.sign(BODY, secret="s3cret", timestamp=1_700_000_000)
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert webhooks.sign(BODY.decode(), secret="s3cret", timestamp=1_700_000_000) == header


async def test_a_fresh_correctly_signed_delivery_is_accepted(db: Database, settings: Settings) -> None:
    await accept(db, settings, BODY, webhooks.sign(BODY, secret=settings.webhook_secret))
    async with db.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(WebhookReceipt))).scalar_one() == 1


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=abc,v1=00",
        "v1=" + "0" * 64,
        "t=1700000000",
        "t=99999999999999999,v1=00",
    ],
)
async def test_a_missing_or_malformed_signature_is_refused(
    db: Database, settings: Settings, header: str | None
) -> None:
    with pytest.raises(WebhookBadSignature):
        await accept(db, settings, BODY, header)


async def test_a_changed_body_or_a_foreign_secret_is_refused(db: Database, settings: Settings) -> None:
    header = webhooks.sign(BODY, secret=settings.webhook_secret)
    with pytest.raises(WebhookBadSignature) as refused:
        await accept(db, settings, BODY.replace(b"2", b"1"), header)
    assert refused.value.code == "webhook_bad_signature" and refused.value.status == 401
    with pytest.raises(WebhookBadSignature):
        await accept(db, settings, BODY, webhooks.sign(BODY, secret="not-the-shared-secret"))


async def test_a_partner_with_its_own_secret_is_checked_against_that_secret(
    db: Database, settings: Settings
) -> None:
    header = webhooks.sign(BODY, secret="city-hangzhou-secret")
    await accept(db, settings, BODY, header, secret="city-hangzhou-secret")
    with pytest.raises(WebhookBadSignature):
        await accept(db, settings, BODY, webhooks.sign(BODY, secret="city-hangzhou-secret"))


async def test_a_signer_rolling_its_secret_over_may_send_two_signatures(
    db: Database, settings: Settings
) -> None:
    old = webhooks.sign(BODY, secret="old-secret", timestamp=int(time.time()))
    new = webhooks.sign(BODY, secret=settings.webhook_secret, timestamp=int(time.time()))
    both = old + "," + new.split(",", 1)[1]
    await accept(db, settings, BODY, both)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
async def test_a_timestamp_outside_the_tolerance_is_refused_as_stale(
    db: Database, settings: Settings, offset: int
) -> None:
    now = time.time()
    header = webhooks.sign(BODY, secret=settings.webhook_secret, timestamp=int(now) + offset)
    with pytest.raises(WebhookStale) as refused:
        await accept(db, settings, BODY, header, now=int(now))
    assert refused.value.code == "webhook_stale"
    assert "300" in refused.value.message("en") and "300" in refused.value.message("zh")


async def test_a_timestamp_at_the_edge_of_the_tolerance_is_accepted(db: Database, settings: Settings) -> None:
    now = int(time.time())
    header = webhooks.sign(BODY, secret=settings.webhook_secret, timestamp=now - 300)
    await accept(db, settings, BODY, header, now=now)


async def test_the_same_delivery_twice_is_refused_as_a_replay(db: Database, settings: Settings) -> None:
    header = webhooks.sign(BODY, secret=settings.webhook_secret)
    await accept(db, settings, BODY, header)
    with pytest.raises(WebhookReplayed) as refused:
        await accept(db, settings, BODY, header)
    assert (refused.value.code, refused.value.status) == ("webhook_replayed", 409)


async def test_a_retry_signed_anew_is_not_a_replay(db: Database, settings: Settings) -> None:
    now = int(time.time())
    await accept(db, settings, BODY, webhooks.sign(BODY, secret=settings.webhook_secret, timestamp=now - 5))
    await accept(db, settings, BODY, webhooks.sign(BODY, secret=settings.webhook_secret, timestamp=now))


async def test_of_simultaneous_copies_of_one_delivery_the_database_accepts_exactly_one(
    db: Database, settings: Settings
) -> None:
    header = webhooks.sign(BODY, secret=settings.webhook_secret)
    results = await asyncio.gather(
        *(accept(db, settings, BODY, header) for _ in range(12)), return_exceptions=True
    )
    assert sum(result is None for result in results) == 1
    assert all(isinstance(result, WebhookReplayed) for result in results if result is not None)


async def test_a_delivery_whose_processing_rolled_back_may_be_sent_again(
    db: Database, settings: Settings
) -> None:
    header = webhooks.sign(BODY, secret=settings.webhook_secret)
    with pytest.raises(RuntimeError):
        async with db.sessionmaker() as session, session.begin():
            await webhooks.verify(session=session, settings=settings, body=BODY, header=header)
            raise RuntimeError("acting on the delivery failed")
    await accept(db, settings, BODY, header)


async def test_receipts_past_the_replay_window_are_forgotten(db: Database, settings: Settings) -> None:
    old = webhooks.sign(BODY, secret=settings.webhook_secret, timestamp=int(time.time()) - 10)
    recent = webhooks.sign(BODY, secret=settings.webhook_secret)
    await accept(db, settings, BODY, old)
    await accept(db, settings, BODY, recent)
    async with db.sessionmaker() as session, session.begin():
        timestamp, [signature] = webhooks.parse_header(old)
        await session.execute(
            update(WebhookReceipt)
            .where(WebhookReceipt.key == webhooks.receipt_key(timestamp, signature))
            .values(received_at=utcnow() - timedelta(seconds=3 * settings.webhook_tolerance_seconds))
        )
    await webhooks.prune_receipts(db, settings)
    with pytest.raises(WebhookReplayed):
        await accept(db, settings, BODY, recent)
    async with db.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(WebhookReceipt))).scalar_one() == 1


@pytest.mark.parametrize("error", [WebhookBadSignature, WebhookStale, WebhookReplayed])
def test_each_refusal_speaks_both_languages(error: type[DomainError]) -> None:
    body = error(tolerance=300).to_body("zh-CN")["error"]
    assert body["code"].startswith("webhook_")
    assert body["message_zh"] != body["message_en"] and body["message"] == body["message_zh"]
    assert 400 <= error.status < 500
