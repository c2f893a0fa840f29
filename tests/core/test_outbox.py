"""The transactional outbox: sent only if the change commits, delivered once per claim, retried, then dead."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from regio.config import Settings
from regio.core import outbox, webhooks
from regio.core.db import Database, utcnow
from regio.core.outbox import DEAD, DELIVERED, DELIVERING, PENDING, MemoryTransport, Message, OutboxMessage

HOOK = "https://city.example/hooks/regio"


async def put(
    db: Database, count: int = 1, *, topic: str = "thing.happened", target_url: str | None = None
) -> None:
    async with db.sessionmaker() as session, session.begin():
        for number in range(count):
            outbox.enqueue(session, topic, {"n": number}, target_url=target_url)


async def messages(db: Database) -> list[OutboxMessage]:
    async with db.sessionmaker() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


class Recorder:
    """An in-process handler that remembers what it got and can be told to fail a few times."""

    def __init__(self, failures: int = 0) -> None:
        self.got: list[Message] = []
        self.failures = failures

    async def __call__(self, message: Message) -> None:
        await asyncio.sleep(0)  # give racing workers a chance to interleave
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("receiver is down")
        self.got.append(message)


async def deliver(
    db: Database,
    settings: Settings,
    recorder: Recorder | None = None,
    *,
    transport: outbox.Transport | None = None,
    now: datetime | None = None,
    topic: str = "thing.happened",
    batch_size: int = 50,
) -> int:
    return await outbox.deliver_due(
        db=db,
        settings=settings,
        transport=transport or MemoryTransport(),
        handlers={topic: [recorder]} if recorder else {},
        now=now,
        batch_size=batch_size,
    )


async def test_a_committed_message_is_delivered_to_its_topic_handler(
    db: Database, settings: Settings
) -> None:
    await put(db)
    recorder = Recorder()
    assert await deliver(db, settings, recorder) == 1
    assert [(m.topic, m.payload, m.attempt) for m in recorder.got] == [("thing.happened", {"n": 0}, 1)]
    [row] = await messages(db)
    assert (row.status, row.attempts, row.lease_token) == (DELIVERED, 1, None)
    assert row.delivered_at is not None
    assert await deliver(db, settings, recorder) == 0  # delivered means done


async def test_a_rolled_back_change_sends_nothing(db: Database, settings: Settings) -> None:
    with pytest.raises(RuntimeError):
        async with db.sessionmaker() as session, session.begin():
            outbox.enqueue(session, "thing.happened", {"n": 1})
            raise RuntimeError("the change failed")
    recorder = Recorder()
    assert await deliver(db, settings, recorder) == 0
    assert recorder.got == [] and await messages(db) == []


async def test_a_payload_that_is_not_json_fails_the_change_not_the_worker(db: Database) -> None:
    with pytest.raises(TypeError):
        async with db.sessionmaker() as session, session.begin():
            outbox.enqueue(session, "thing.happened", {"blob": object()})
    assert await messages(db) == []


async def test_concurrent_workers_deliver_each_message_exactly_once(db: Database, settings: Settings) -> None:
    await put(db, 120)
    recorder = Recorder()

    async def worker() -> None:
        while await deliver(db, settings, recorder, batch_size=7):
            pass

    await asyncio.gather(*(worker() for _ in range(5)))
    counts = Counter(message.id for message in recorder.got)
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert {row.status for row in await messages(db)} == {DELIVERED}


async def test_concurrent_claims_never_hand_one_message_to_two_workers(
    db: Database, settings: Settings
) -> None:
    await put(db, 60)
    batches = await asyncio.gather(*(outbox.claim(db=db, settings=settings, batch_size=9) for _ in range(8)))
    claimed = [message.id for batch in batches for message in batch]
    assert len(claimed) == len(set(claimed)) == 60
    tokens = {message.lease_token for batch in batches for message in batch}
    assert len(tokens) == sum(1 for batch in batches if batch)


async def test_a_failure_is_retried_later_with_backoff_and_then_succeeds(
    db: Database, settings: Settings
) -> None:
    await put(db, target_url=HOOK)
    transport = MemoryTransport(script={HOOK: [500, 200]})
    now = utcnow()
    assert await deliver(db, settings, transport=transport, now=now) == 1
    [row] = await messages(db)
    assert (row.status, row.attempts) == (PENDING, 1)
    assert row.last_error is not None and "HTTP 500" in row.last_error
    delay = (row.next_attempt_at - now).total_seconds()
    assert outbox.BACKOFF_BASE_SECONDS / 2 <= delay <= outbox.BACKOFF_BASE_SECONDS

    assert await deliver(db, settings, transport=transport, now=now + timedelta(seconds=delay / 2)) == 0
    assert await deliver(db, settings, transport=transport, now=row.next_attempt_at) == 1
    [row] = await messages(db)
    assert (row.status, row.attempts, row.last_error) == (DELIVERED, 2, None)
    assert [request.headers["Regio-Delivery"] for request in transport.sent] == [str(row.id)] * 2
    assert [request.headers["Regio-Attempt"] for request in transport.sent] == ["1", "2"]


async def test_a_message_is_dead_after_the_last_allowed_attempt(db: Database, settings: Settings) -> None:
    settings = settings.model_copy(update={"outbox_max_attempts": 3})
    await put(db)
    recorder = Recorder(failures=100)
    moment = utcnow()
    for _ in range(3):
        assert await deliver(db, settings, recorder, now=moment) == 1
        moment += timedelta(hours=2)  # past any backoff
    [row] = await messages(db)
    assert (row.status, row.attempts) == (DEAD, 3)
    assert row.last_error == "RuntimeError: receiver is down"
    assert await deliver(db, settings, recorder, now=moment + timedelta(days=30)) == 0


async def test_a_crashed_workers_lease_expires_and_another_worker_delivers(
    db: Database, settings: Settings
) -> None:
    await put(db)
    now = utcnow()
    [lost] = await outbox.claim(db=db, settings=settings, lease_seconds=30, now=now)  # then the worker dies
    recorder = Recorder()
    assert await deliver(db, settings, recorder, now=now + timedelta(seconds=29)) == 0
    assert await deliver(db, settings, recorder, now=now + timedelta(seconds=31)) == 1
    assert [message.attempt for message in recorder.got] == [2]
    # The first worker coming back to life cannot overwrite what the second one did.
    assert await outbox.complete(db=db, message=lost) is False
    assert await outbox.fail(db=db, settings=settings, message=lost, error="late") is None
    [row] = await messages(db)
    assert (row.status, row.last_error) == (DELIVERED, None)


async def test_a_worker_that_dies_on_the_last_attempt_leaves_a_dead_message(
    db: Database, settings: Settings
) -> None:
    settings = settings.model_copy(update={"outbox_max_attempts": 1})
    await put(db)
    now = utcnow()
    await outbox.claim(db=db, settings=settings, lease_seconds=30, now=now)
    assert await deliver(db, settings, Recorder(), now=now + timedelta(minutes=5)) == 0
    [row] = await messages(db)
    assert row.status == DEAD and "lease expired" in (row.last_error or "")


async def test_one_bad_message_does_not_hold_up_the_rest_of_its_batch(
    db: Database, settings: Settings
) -> None:
    await put(db, 3, target_url=HOOK)
    await put(db, 2, target_url="https://broken.example/hook")
    transport = MemoryTransport(script={"https://broken.example/hook": [httpx.ConnectError("refused")] * 2})
    assert await deliver(db, settings, transport=transport) == 5
    statuses = Counter((row.target_url, row.status) for row in await messages(db))
    assert statuses == {(HOOK, DELIVERED): 3, ("https://broken.example/hook", PENDING): 2}
    assert all(
        "ConnectError" in (row.last_error or "") for row in await messages(db) if row.status == PENDING
    )


async def test_a_topic_nobody_handles_is_retried_not_silently_dropped(
    db: Database, settings: Settings
) -> None:
    await put(db, topic="nobody.listens")
    assert await deliver(db, settings) == 1
    [row] = await messages(db)
    assert row.status == PENDING and "no handler" in (row.last_error or "")


async def test_handlers_registered_for_the_process_are_used_by_default(
    db: Database, settings: Settings
) -> None:
    recorder = Recorder()
    outbox.register_handler("test.process-wide", recorder)
    outbox.register_handler("test.process-wide", recorder)  # registering twice delivers once
    try:
        await put(db, topic="test.process-wide")
        await outbox.deliver_due(db=db, settings=settings, transport=MemoryTransport())
    finally:
        outbox.unregister_handler("test.process-wide", recorder)
    assert len(recorder.got) == 1


async def test_a_webhook_is_signed_so_the_receiver_can_verify_it(db: Database, settings: Settings) -> None:
    async with db.sessionmaker() as session, session.begin():
        outbox.enqueue(session, "warning.issued", {"level": 2, "city": "330100"}, target_url=HOOK)
    transport = MemoryTransport()
    await outbox.deliver_due(db=db, settings=settings, transport=transport, handlers={})
    [request] = transport.sent
    assert request.url == HOOK
    body = json.loads(request.content)
    assert (body["topic"], body["data"]) == ("warning.issued", {"level": 2, "city": "330100"})
    assert request.headers["Regio-Topic"] == "warning.issued"
    webhooks.check_signature(
        request.content,
        request.headers[webhooks.SIGNATURE_HEADER],
        secret=settings.webhook_secret,
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    with pytest.raises(webhooks.WebhookBadSignature):
        webhooks.check_signature(
            request.content,
            request.headers[webhooks.SIGNATURE_HEADER],
            secret="someone-else",
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )


async def test_the_httpx_transport_posts_the_signed_body_and_reports_the_status(
    db: Database, settings: Settings
) -> None:
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) == 1 else 204)

    transport = outbox.HttpxTransport(httpx.AsyncClient(transport=httpx.MockTransport(receiver)))
    try:
        await put(db, target_url=HOOK)
        now = utcnow()
        await deliver(db, settings, transport=transport, now=now)
        [row] = await messages(db)
        assert row.status == PENDING and "HTTP 503" in (row.last_error or "")
        await deliver(db, settings, transport=transport, now=now + timedelta(hours=1))
    finally:
        await transport.aclose()
    [row] = await messages(db)
    assert row.status == DELIVERED
    assert [str(request.url) for request in seen] == [HOOK, HOOK]
    assert seen[1].headers["content-type"].startswith("application/json")
    webhooks.check_signature(
        seen[1].content,
        seen[1].headers[webhooks.SIGNATURE_HEADER],
        secret=settings.webhook_secret,
        tolerance_seconds=60,
    )


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 20])
def test_backoff_doubles_per_attempt_with_jitter_and_a_cap(attempt: int) -> None:
    ceiling = min(outbox.BACKOFF_CAP_SECONDS, outbox.BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    delays = {outbox.backoff_seconds(attempt) for _ in range(200)}
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(delays) > 1  # jittered, so failed messages do not all come back at once


async def test_claimed_messages_are_marked_delivering_under_a_lease(db: Database, settings: Settings) -> None:
    await put(db, 2)
    now = utcnow()
    claimed = await outbox.claim(db=db, settings=settings, lease_seconds=45, now=now)
    assert [message.attempt for message in claimed] == [1, 1]
    rows = await messages(db)
    assert {row.status for row in rows} == {DELIVERING}
    assert all(row.lease_expires_at == now + timedelta(seconds=45) for row in rows)
    assert await outbox.claim(db=db, settings=settings, now=now) == []
