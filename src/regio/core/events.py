"""Live pub/sub for open screens: in-process on one server, Redis between many.

Live events are a fast path, never the record: whatever a subscriber must not miss is in the
database first, and every live channel (chat, warnings) lets a client resume from the last
sequence it saw. So a publish that nobody hears, or a subscriber that falls behind, loses
nothing; a lagging subscriber is told (`Lagged`) so that it re-reads from the database.

One bus per process. `RedisBus` keeps one Redis connection for all of the process's
subscribers and fans messages out locally, so 500 open chats cost one Redis subscription per
channel in use, not 500 connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from regio.core.jsonable import json_default

log = logging.getLogger("regio.events")

# How many undelivered messages a subscriber may have before it is declared lagging.
QUEUE_LIMIT = 1000


class Lagged(Exception):
    """The subscriber fell too far behind; it must re-read what it missed from the database."""


class Subscription:
    """Messages published on some channels since subscribing, in publish order per publisher."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.channels = channels
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._lagged = False

    def _offer(self, message: dict[str, Any]) -> None:
        if self._lagged:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # Dropping silently would lose messages; the reader learns of it once the backlog is read.
            self._lagged = True

    async def get(self) -> dict[str, Any]:
        """The next message; raises `Lagged` once messages were dropped for this subscriber."""
        if self._lagged and self._queue.empty():
            raise Lagged(",".join(self.channels))
        message = await self._queue.get()
        return message

    def get_nowait(self) -> dict[str, Any] | None:
        if self._lagged and self._queue.empty():
            raise Lagged(",".join(self.channels))
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.get()


class EventBus(Protocol):
    async def publish(self, channel: str, message: Mapping[str, Any]) -> None: ...

    def subscribe(self, *channels: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...

    async def close(self) -> None: ...


class _LocalFanout:
    """Subscribers of this process by channel; shared by both buses."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> list[str]:
        """Registers a subscription; returns the channels that had no local subscriber before."""
        fresh = []
        for channel in subscription.channels:
            members = self._subscribers.setdefault(channel, set())
            if not members:
                fresh.append(channel)
            members.add(subscription)
        return fresh

    def remove(self, subscription: Subscription) -> list[str]:
        """Unregisters; returns the channels that now have no local subscriber."""
        emptied = []
        for channel in subscription.channels:
            members = self._subscribers.get(channel)
            if members is None:
                continue
            members.discard(subscription)
            if not members:
                del self._subscribers[channel]
                emptied.append(channel)
        return emptied

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        for subscription in tuple(self._subscribers.get(channel, ())):
            subscription._offer(message)

    def count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))


class InProcessBus:
    """One server process: publish hands the message to this process's subscribers directly."""

    def __init__(self) -> None:
        self._fanout = _LocalFanout()

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        # A copy through JSON, so subscribers see exactly what a Redis subscriber would.
        self._fanout.deliver(channel, json.loads(json.dumps(dict(message), default=json_default)))

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(tuple(channels))
        self._fanout.add(subscription)
        try:
            yield subscription
        finally:
            self._fanout.remove(subscription)

    def subscriber_count(self, channel: str) -> int:
        return self._fanout.count(channel)

    async def close(self) -> None:
        return None


class RedisBus:
    """Many server processes: messages travel through Redis pub/sub, one connection per process."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._client = redis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._fanout = _LocalFanout()
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._client.publish(channel, json.dumps(dict(message), default=json_default))

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(tuple(channels))
        async with self._lock:
            fresh = self._fanout.add(subscription)
            if fresh:
                # Subscribed before returning, so nothing published after this point is missed.
                await self._pubsub.subscribe(*fresh)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        try:
            yield subscription
        finally:
            async with self._lock:
                emptied = self._fanout.remove(subscription)
                if emptied:
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(*emptied)

    async def _read(self) -> None:
        while True:
            try:
                item = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis pub/sub read failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if item is None or item.get("type") != "message":
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                continue
            channel = item["channel"].decode() if isinstance(item["channel"], bytes) else item["channel"]
            try:
                message = json.loads(item["data"])
            except (ValueError, TypeError):
                log.warning("dropping a malformed message on %s", channel)
                continue
            self._fanout.deliver(channel, message)

    def subscriber_count(self, channel: str) -> int:
        return self._fanout.count(channel)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        await self._client.aclose()


def bus_for(redis_url: str) -> InProcessBus | RedisBus:
    """The bus a process should use: Redis when a URL is configured, else in-process."""
    return RedisBus(redis_url) if redis_url else InProcessBus()
