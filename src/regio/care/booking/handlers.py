"""Booking's background work: timed jobs (hold expiry, roster materialising) and outbox handlers (站内信)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from regio.care.booking import service
from regio.config import get_settings
from regio.core import jobs, outbox
from regio.core.db import Database, process_database

MATERIALISE_EVERY_SECONDS = 3600.0


def notification_handler(db: Database) -> outbox.Handler:
    """Writes each booking message as a 站内信 for its user; a redelivery writes nothing more."""

    async def handle(message: outbox.Message) -> None:
        await service.store_notification(db=db, message=message)

    return handle


def handlers_for(db: Database) -> Mapping[str, Sequence[outbox.Handler]]:
    handler = notification_handler(db)
    return {topic: [handler] for topic in service.TOPICS}


async def _deliver_to_inbox(message: outbox.Message) -> None:
    await service.store_notification(db=process_database(), message=message)


def register() -> None:
    """Registers the jobs and handlers with the process-wide registries (idempotent)."""
    settings = get_settings()
    jobs.register("care.booking.expire_holds", settings.booking_expire_interval_seconds, service.expire_job)
    jobs.register("care.booking.materialise", MATERIALISE_EVERY_SECONDS, service.materialise_all)
    for topic in service.TOPICS:
        outbox.register_handler(topic, _deliver_to_inbox)


register()
