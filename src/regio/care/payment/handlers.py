"""Payment's background work: lapsing unpaid orders, notices (站内信) and the gateway refunds."""

from __future__ import annotations

from regio.care.booking import service as booking_service
from regio.care.payment import gateways, service
from regio.config import get_settings
from regio.core import jobs, outbox
from regio.core.db import process_database


async def _deliver_notice(message: outbox.Message) -> None:
    await booking_service.store_notification(db=process_database(), message=message)


async def _booking_cancelled(message: outbox.Message) -> None:
    await service.refund_cancelled_booking(
        db=process_database(),
        appointment_id=int(message.payload["appointment_id"]),
        by=str(message.payload.get("by", "")),
    )


async def _gateway_refund(message: outbox.Message) -> None:
    await service.send_gateway_refund(message=message, gateway=gateways.gateway_for(get_settings()))


def register() -> None:
    """Registers the job and handlers with the process-wide registries (idempotent)."""
    settings = get_settings()
    jobs.register("care.payment.lapse_orders", settings.payment_jobs_interval_seconds, service.lapse_job)
    outbox.register_handler(service.TOPIC_NOTICE, _deliver_notice)
    outbox.register_handler(service.TOPIC_GATEWAY_REFUND, _gateway_refund)
    # Booking announces every cancellation; a paid booking's fee comes back here, whoever cancelled.
    outbox.register_handler(booking_service.TOPIC_APPOINTMENT_ENDED, _booking_cancelled)


register()
