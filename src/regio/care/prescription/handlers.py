"""Prescriptions' background work: the review-SLA timer, notices to doctors and patients (站内信), and
booking the courier after a patient chose delivery."""

from __future__ import annotations

import logging

from regio.care.booking import service as booking_service
from regio.care.prescription import couriers, service
from regio.config import get_settings
from regio.core import jobs, outbox
from regio.core.db import process_database

log = logging.getLogger("regio.prescription")


async def _deliver_notice(message: outbox.Message) -> None:
    # Booking keeps the user's inbox; a later subdomain writes to it through booking's service.
    await booking_service.store_notification(db=process_database(), message=message)


async def _ship(message: outbox.Message) -> None:
    settings = get_settings()
    await service.book_shipment(
        db=process_database(),
        prescription_id=int(message.payload["prescription_id"]),
        courier=couriers.courier_for(settings),
    )


async def _overdue(message: outbox.Message) -> None:
    # The queue shows the flag to every pharmacist of the hospital; the log tells the operators.
    log.warning(
        "prescription %s of hospital %s is past its review time",
        message.payload.get("prescription_id"),
        message.payload.get("hospital_id"),
    )


def register() -> None:
    """Registers the job and handlers with the process-wide registries (idempotent)."""
    settings = get_settings()
    jobs.register(
        "care.prescription.flag_overdue_reviews",
        settings.prescription_jobs_interval_seconds,
        service.flag_overdue_job,
    )
    outbox.register_handler(service.TOPIC_NOTICE, _deliver_notice)
    outbox.register_handler(service.TOPIC_SHIP, _ship)
    outbox.register_handler(service.TOPIC_OVERDUE, _overdue)


register()
