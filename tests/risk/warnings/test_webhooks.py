"""Signed webhooks: a jurisdiction's own system receives its warnings through the outbox, signed
with HMAC-SHA256 over timestamp.body; a delivery is marked (timestamped, audited) only when the
receiver took it, and retried when it did not."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from regio.config import Settings
from regio.core import outbox, webhooks
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.risk.warnings import handlers, service
from regio.risk.warnings.models import WebhookDelivery
from tests.factories import token_headers
from tests.risk.warnings.conftest import (
    HUZHOU,
    WENZHOU,
    journey,
    make_officer,
    officer_grant,
    reach,
    write_event,
)

URL = "https://huzhou.example.gov.cn/regio-warnings"


async def _subscribe(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    huzhou = await make_officer(db, officer_grant(HUZHOU))
    answer = await client.post(
        "/api/risk/webhook-subscriptions",
        json={"subscriber_key": f"prefecture:{HUZHOU}", "url": URL},
        headers=token_headers(settings, huzhou.user),
    )
    assert answer.status_code == 201, answer.text


async def _deliver(db: Database, settings: Settings, transport: outbox.MemoryTransport) -> int:
    return await outbox.deliver_due(
        db=db,
        settings=settings,
        transport=transport,
        handlers={service.WEBHOOK_TOPIC: [handlers.webhook_handler(db, settings, transport)]},
    )


async def test_a_warning_reaches_the_subscribers_system_signed_and_is_marked_delivered(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    await _subscribe(client, db, settings)
    event = await write_event(db)
    await journey(db, settings, event, reach(HUZHOU))
    transport = outbox.MemoryTransport()
    assert await _deliver(db, settings, transport) == 1

    [sent] = transport.sent
    assert sent.url == URL
    webhooks.check_signature(
        sent.content,
        sent.headers[webhooks.SIGNATURE_HEADER],
        secret=settings.webhook_secret,
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    with pytest.raises(webhooks.WebhookBadSignature):
        webhooks.check_signature(
            sent.content + b" ",
            sent.headers[webhooks.SIGNATURE_HEADER],
            secret=settings.webhook_secret,
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )
    body = json.loads(sent.content)
    assert body["topic"] == "risk.warning.warning" and body["data"]["recipient_code"] == HUZHOU
    async with db.session() as session:
        delivery = (await session.execute(select(WebhookDelivery))).scalar_one()
        audited = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == "risk.warning.webhook_delivered")
            )
        ).scalar_one()
    assert delivery.status == "delivered" and delivery.delivered_at is not None and delivery.attempts == 1
    assert audited.object_id == str(delivery.warning_id)


async def test_a_refused_webhook_is_retried_and_not_marked_until_it_lands(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    await _subscribe(client, db, settings)
    event = await write_event(db)
    await journey(db, settings, event, reach(HUZHOU))
    transport = outbox.MemoryTransport(script={URL: [503]})
    await _deliver(db, settings, transport)
    async with db.session() as session:
        delivery = (await session.execute(select(WebhookDelivery))).scalar_one()
        message = (
            await session.execute(
                select(outbox.OutboxMessage).where(outbox.OutboxMessage.topic == service.WEBHOOK_TOPIC)
            )
        ).scalar_one()
    assert delivery.status == "pending" and delivery.last_error == "HTTP 503"
    assert message.status == "pending" and message.attempts == 1
    # the retry, when due, lands
    await _deliver_at(db, settings, transport, message.next_attempt_at)
    assert len(transport.sent) == 2
    async with db.session() as session:
        delivery = (await session.execute(select(WebhookDelivery))).scalar_one()
    assert delivery.status == "delivered" and delivery.attempts == 2


async def _deliver_at(db: Database, settings: Settings, transport: outbox.MemoryTransport, when) -> None:  # type: ignore[no-untyped-def]
    await outbox.deliver_due(
        db=db,
        settings=settings,
        transport=transport,
        handlers={service.WEBHOOK_TOPIC: [handlers.webhook_handler(db, settings, transport)]},
        now=when,
    )


async def test_only_a_jurisdictions_own_officer_subscribes_it(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    wenzhou = await make_officer(db, officer_grant(WENZHOU))
    refused = await client.post(
        "/api/risk/webhook-subscriptions",
        json={"subscriber_key": f"prefecture:{HUZHOU}", "url": URL},
        headers=token_headers(settings, wenzhou.user),
    )
    assert refused.status_code == 403
    bad = await client.post(
        "/api/risk/webhook-subscriptions",
        json={"subscriber_key": f"prefecture:{WENZHOU}", "url": "ftp://example.org/x"},
        headers=token_headers(settings, wenzhou.user),
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_webhook_url"
