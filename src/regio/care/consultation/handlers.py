"""Timed jobs and outbox handlers of consultation, registered when the routers are imported."""

from __future__ import annotations

import logging

from regio.care.consultation import service
from regio.core import jobs, outbox
from regio.core.events import EventBus

log = logging.getLogger("regio.consultation")

WIDEN_EVERY_SECONDS = 30.0

# The process's live bus, handed over by the app when it serves its first consultation route:
# an outbox handler receives only the message, and a notification is a live event for the user's
# open pages (the workbench hears of a new question, the patient of an accepted one).
_live: list[EventBus] = []


def attach_bus(bus: EventBus) -> None:
    if not _live or _live[0] is not bus:
        _live[:] = [bus]


def user_channel(user_id: int) -> str:
    return f"care.user.{user_id}"


async def _notify(message: outbox.Message) -> None:
    user_ids = [int(u) for u in message.payload.get("user_ids", [])]
    log.info("consultation notice %s to users %s", message.topic, user_ids)
    if not _live:
        return
    for user_id in user_ids:
        await _live[0].publish(user_channel(user_id), {"topic": message.topic, **message.payload})


def register() -> None:
    """Registers the jobs and handlers with the process-wide registries (idempotent)."""
    jobs.register("care.consultation.widen_quick_questions", WIDEN_EVERY_SECONDS, service.widen_job)
    for topic in service.TOPICS:
        outbox.register_handler(topic, _notify)


register()
