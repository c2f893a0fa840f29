"""Warnings' background work: the outbox backstop of the journey, signed webhooks, and the timed
jobs that escalate overdue warnings and remind owners of overdue tasks.
"""

from __future__ import annotations

from regio.config import Settings, get_settings
from regio.core import events, jobs, outbox
from regio.core.db import Database, process_database
from regio.core.events import EventBus
from regio.risk.warnings import service

_bus: EventBus | None = None
_transport: outbox.Transport | None = None


def adopt_bus(bus: EventBus) -> None:
    """Publishes background changes on the app's own bus (so one `regio serve` needs no Redis)."""
    global _bus
    _bus = bus


def process_bus() -> EventBus:
    """The bus of this process: the app's when it has one, else one of our own (Redis if configured)."""
    global _bus
    if _bus is None:
        _bus = events.bus_for(get_settings().redis_url)
    return _bus


def _process_transport() -> outbox.Transport:
    global _transport
    if _transport is None:
        _transport = outbox.HttpxTransport()
    return _transport


def journey_handler(db: Database, bus: EventBus | None) -> outbox.Handler:
    """The backstop: runs the journey for a changed event; a run the route already made is skipped."""

    async def handle(message: outbox.Message) -> None:
        from regio.risk import flows

        event_id = int(message.payload["event_id"])
        async with db.sessionmaker() as session:
            await flows.journey(session=session, bus=bus, event_id=event_id)

    return handle


def webhook_handler(db: Database, settings: Settings, transport: outbox.Transport) -> outbox.Handler:
    async def handle(message: outbox.Message) -> None:
        await service.deliver_webhook(db=db, settings=settings, transport=transport, message=message)

    return handle


async def _journey(message: outbox.Message) -> None:
    await journey_handler(process_database(), process_bus())(message)


async def _webhook(message: outbox.Message) -> None:
    await webhook_handler(process_database(), get_settings(), _process_transport())(message)


async def escalate_job(db: Database, settings: Settings) -> None:
    await service.escalate_due(db=db, settings=settings, bus=process_bus())


async def remind_job(db: Database, settings: Settings) -> None:
    await service.remind_overdue(db=db, settings=settings, bus=process_bus())


def register() -> None:
    """Registers the jobs and handlers with the process-wide registries (idempotent)."""
    settings = get_settings()
    jobs.register("risk.warnings.escalate", settings.warning_jobs_interval_seconds, escalate_job)
    jobs.register("risk.warnings.remind_tasks", settings.warning_jobs_interval_seconds, remind_job)
    outbox.register_handler(service.EVENT_CHANGED_TOPIC, _journey)
    outbox.register_handler(service.WEBHOOK_TOPIC, _webhook)


register()
