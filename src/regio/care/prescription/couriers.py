"""Couriers that carry drugs to a patient's door: one small Protocol, a real HTTP one and an in-memory one.

The HTTP courier POSTs a shipment as JSON to REGIO_COURIER_URL, signed with the platform's one
webhook scheme (`regio.core.webhooks.sign`), and reads back `{"tracking_id": ...}`. The courier then
reports progress to `POST /api/care/couriers/{name}/events`, signed the same way, one JSON object per
event: `{"event_id", "tracking_id", "status", "occurred_at"}` (status one of accepted, picked_up,
in_transit, delivered, failed; occurred_at ISO 8601 with a zone). A repeated event id or an event
older than the one already applied changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import httpx

from regio.config import Settings
from regio.core import webhooks
from regio.core.errors import DomainError

COURIER_URL_ENV = "REGIO_COURIER_URL"
SEND_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ShipmentRequest:
    """What a courier needs to carry one parcel; `reference` is ours and the same on every retry."""

    reference: str
    pickup_name: str
    pickup_address: str
    pickup_phone: str
    recipient_name: str
    recipient_phone: str
    address: str
    cold_chain: bool
    items: int


class Courier(Protocol):
    """Books shipments; raises CourierFailed when one could not be booked."""

    name: str

    async def create_shipment(self, request: ShipmentRequest) -> str: ...


class CourierFailed(Exception):
    """The courier did not book the shipment (it is retried from the outbox)."""


class CourierUnavailable(DomainError):
    status = 503
    code = "courier_unavailable"
    message_en = "Home delivery is not available right now; choose pickup or try again later."
    message_zh = "暂时无法配送到家，请选择到店自取或稍后再试。"


def shipment_body(request: ShipmentRequest) -> bytes:
    """The exact bytes POSTed and signed."""
    document = {
        "reference": request.reference,
        "pickup": {
            "name": request.pickup_name,
            "address": request.pickup_address,
            "phone": request.pickup_phone,
        },
        "recipient": {
            "name": request.recipient_name,
            "phone": request.recipient_phone,
            "address": request.address,
        },
        "cold_chain": request.cold_chain,
        "items": request.items,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


class HttpCourier:
    """The real thing: one signed POST per shipment; the courier answers with its tracking id."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        secret: str,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{COURIER_URL_ENV} must be an http(s) URL")
        self.url = url
        self._secret = secret
        self._client = client or httpx.AsyncClient(follow_redirects=False, timeout=timeout_seconds)

    def __repr__(self) -> str:
        return f"HttpCourier({self.url!r}, secret=<hidden>)"

    async def create_shipment(self, request: ShipmentRequest) -> str:
        # The courier drops a second booking with the same key: a retried POST books one parcel.
        headers = {"Idempotency-Key": request.reference, "User-Agent": "Regio-Courier/1"}
        try:
            response = await webhooks.post_signed(
                self._client, self.url, shipment_body(request), secret=self._secret, headers=headers
            )
        except webhooks.SignedPostFailed as exc:
            raise CourierFailed(f"{exc} from the courier") from None
        try:
            tracking = response.json()["tracking_id"]
        except (ValueError, KeyError, TypeError):
            raise CourierFailed("the courier's answer has no tracking_id") from None
        if not isinstance(tracking, str) or not 1 <= len(tracking) <= 64:
            raise CourierFailed("the courier's tracking_id is not a short string")
        return tracking

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class MemoryCourier:
    """For tests and the laptop demo: books every shipment and remembers it; a repeated reference
    gets the tracking id it got the first time, as a real courier's idempotency key would."""

    name: str = "memory"
    shipments: dict[str, ShipmentRequest] = field(default_factory=dict)
    _by_reference: dict[str, str] = field(default_factory=dict)
    fail_next: int = 0

    async def create_shipment(self, request: ShipmentRequest) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise CourierFailed("the memory courier was told to fail")
        if request.reference in self._by_reference:
            return self._by_reference[request.reference]
        tracking = "MEM" + uuid.uuid4().hex[:16].upper()
        self._by_reference[request.reference] = tracking
        self.shipments[tracking] = request
        return tracking


class UnconfiguredCourier:
    """Production without REGIO_COURIER_URL: delivery is refused up front, nothing is pretended."""

    name = "unconfigured"

    async def create_shipment(self, request: ShipmentRequest) -> str:
        raise CourierUnavailable(reason="not_configured")


def event_body(*, event_id: str, tracking_id: str, status: str, occurred_at: datetime) -> bytes:
    """A status event as a courier sends it (used by the demo's simulator and by tests)."""
    document = {
        "event_id": event_id,
        "tracking_id": tracking_id,
        "status": status,
        "occurred_at": occurred_at.isoformat(),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def courier_secret(settings: Settings) -> str:
    """The courier's own HMAC key; on a laptop, where there is none, the platform's webhook key."""
    return settings.courier_secret or settings.webhook_secret


_memory: dict[str, MemoryCourier] = {}


def courier_for(settings: Settings, environ: Mapping[str, str] | None = None) -> Courier:
    """The courier this process uses: HTTP when REGIO_COURIER_URL is set, else one in-memory courier
    per process on a laptop or in tests (shared, so the demo and tests see what they booked)."""
    url = (environ.get(COURIER_URL_ENV, "") if environ is not None else settings.courier_url).strip()
    if url:
        return HttpCourier(url, secret=courier_secret(settings))
    if settings.environment in ("development", "test"):
        return memory_courier()
    return UnconfiguredCourier()


def memory_courier() -> MemoryCourier:
    """The process's in-memory courier (tests read what was booked)."""
    return _memory.setdefault("memory", MemoryCourier())
