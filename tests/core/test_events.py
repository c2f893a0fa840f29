"""Live pub/sub: what a subscriber hears, in order, on one process and through Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from regio.core import events
from regio.core.events import InProcessBus, Lagged, RedisBus

REDIS_URL = os.environ.get("REGIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _redis_reachable() -> bool:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
        return True
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture(params=["in-process", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[InProcessBus | RedisBus]:
    if request.param == "in-process":
        made: InProcessBus | RedisBus = InProcessBus()
    else:
        if not await _redis_reachable():
            if os.environ.get("REGIO_REQUIRE_POSTGRES"):
                pytest.fail(f"Redis at {REDIS_URL} is not answering; CI must start it")
            pytest.skip(f"Redis at {REDIS_URL} is not answering")
        made = RedisBus(REDIS_URL)
    yield made
    await made.close()


def _channel() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_a_subscriber_hears_every_message_in_order(bus: InProcessBus | RedisBus) -> None:
    channel = _channel()
    async with bus.subscribe(channel) as subscription:
        for n in range(50):
            await bus.publish(channel, {"n": n})
        heard = [(await asyncio.wait_for(subscription.get(), 5))["n"] for _ in range(50)]
    assert heard == list(range(50))


async def test_only_subscribers_of_a_channel_hear_it(bus: InProcessBus | RedisBus) -> None:
    mine, other = _channel(), _channel()
    async with bus.subscribe(mine) as subscription:
        await bus.publish(other, {"for": "other"})
        await bus.publish(mine, {"for": "me"})
        assert (await asyncio.wait_for(subscription.get(), 5)) == {"for": "me"}
        await asyncio.sleep(0.05)
        assert subscription.get_nowait() is None


async def test_every_subscriber_of_a_channel_hears_it(bus: InProcessBus | RedisBus) -> None:
    channel = _channel()
    async with bus.subscribe(channel) as first, bus.subscribe(channel) as second:
        await bus.publish(channel, {"x": 1})
        assert (await asyncio.wait_for(first.get(), 5)) == {"x": 1}
        assert (await asyncio.wait_for(second.get(), 5)) == {"x": 1}
    assert bus.subscriber_count(channel) == 0


async def test_one_subscription_may_listen_to_several_channels(bus: InProcessBus | RedisBus) -> None:
    a, b = _channel(), _channel()
    async with bus.subscribe(a, b) as subscription:
        await bus.publish(a, {"from": "a"})
        await bus.publish(b, {"from": "b"})
        heard = {(await asyncio.wait_for(subscription.get(), 5))["from"] for _ in range(2)}
    assert heard == {"a", "b"}


async def test_messages_arrive_as_json_would_carry_them(bus: InProcessBus | RedisBus) -> None:
    channel = _channel()
    async with bus.subscribe(channel) as subscription:
        await bus.publish(channel, {"ids": (1, 2), "text": "发热三天"})
        assert (await asyncio.wait_for(subscription.get(), 5)) == {"ids": [1, 2], "text": "发热三天"}


async def test_a_subscriber_that_falls_behind_is_told_rather_than_silently_losing_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "QUEUE_LIMIT", 3)
    bus = InProcessBus()
    channel = _channel()
    async with bus.subscribe(channel) as subscription:
        for n in range(5):
            await bus.publish(channel, {"n": n})
        kept = [(await subscription.get())["n"] for _ in range(3)]
        with pytest.raises(Lagged):
            await subscription.get()
    assert kept == [0, 1, 2]


async def test_messages_cross_between_two_processes_buses_through_redis() -> None:
    if not await _redis_reachable():
        if os.environ.get("REGIO_REQUIRE_POSTGRES"):
            pytest.fail(f"Redis at {REDIS_URL} is not answering; CI must start it")
        pytest.skip(f"Redis at {REDIS_URL} is not answering")
    publisher, listener = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    channel = _channel()
    try:
        async with listener.subscribe(channel) as subscription:
            await publisher.publish(channel, {"hello": "from another process"})
            assert (await asyncio.wait_for(subscription.get(), 5)) == {"hello": "from another process"}
    finally:
        await publisher.close()
        await listener.close()


def test_the_bus_is_chosen_by_configuration() -> None:
    assert isinstance(events.bus_for(""), InProcessBus)
