"""Scales' background work: the escalation job and the outbox handler that writes alert notices (站内信)."""

from __future__ import annotations

from regio.care.scales import service
from regio.core import jobs, outbox
from regio.core.db import Database, process_database


def notice_handler(db: Database) -> outbox.Handler:
    """Writes each alert message as a notice for its user; a redelivery writes nothing more."""

    async def handle(message: outbox.Message) -> None:
        await service.store_notice(db=db, message=message)

    return handle


async def _deliver_notice(message: outbox.Message) -> None:
    await service.store_notice(db=process_database(), message=message)


def register() -> None:
    """Registers the job and the handler with the process-wide registries (idempotent)."""
    jobs.register("care.scales.escalate_alerts", service.ESCALATE_EVERY_SECONDS, service.escalate_job)
    outbox.register_handler(service.TOPIC_ALERT, _deliver_notice)


register()
