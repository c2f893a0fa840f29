"""Payment gateways: one small Protocol, a real HTTP one and an in-memory one.

The HTTP gateway POSTs `{"reference", "amount_fen", "description", "notify_url"}` to
REGIO_PAYMENT_GATEWAY_URL + "/payments", signed with the platform's one webhook scheme, and reads back
`{"transaction_id", "pay_url"}`; refunds go to "/refunds" the same way and answer `{"refund_id"}`. The
gateway later reports the outcome to `POST /api/care/payments/gateways/{name}/notify`, signed the same
way, one JSON object per event: `{"event_id", "reference", "status": "paid"|"failed", "amount_fen"}`.
A repeated event changes nothing; a bad signature is refused and logged.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from regio.config import Settings
from regio.core import webhooks
from regio.core.errors import DomainError

GATEWAY_URL_ENV = "REGIO_PAYMENT_GATEWAY_URL"
SEND_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class PaymentStart:
    transaction_id: str
    pay_url: str | None  # where the patient completes the payment (None: nothing to do there)


class Gateway(Protocol):
    name: str

    async def create_payment(
        self, *, reference: str, amount_fen: int, description: str, notify_url: str
    ) -> PaymentStart: ...

    async def refund(self, *, reference: str, refund_reference: str, amount_fen: int) -> str: ...


class GatewayFailed(DomainError):
    status = 502
    code = "payment_gateway_failed"
    message_en = "The payment service did not answer as expected; nothing was charged. Please try again."
    message_zh = "支付服务暂时异常，未扣款，请稍后重试。"


class GatewayUnavailable(DomainError):
    status = 503
    code = "payment_gateway_unavailable"
    message_en = "Online payment is not available right now."
    message_zh = "暂时无法在线支付。"


def _body(document: dict[str, object]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


class HttpGateway:
    """The real thing: signed POSTs; the gateway's answers carry its own ids."""

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
            raise ValueError(f"{GATEWAY_URL_ENV} must be an http(s) URL")
        self.url = url.rstrip("/")
        self._secret = secret
        self._client = client or httpx.AsyncClient(follow_redirects=False, timeout=timeout_seconds)

    def __repr__(self) -> str:
        return f"HttpGateway({self.url!r}, secret=<hidden>)"

    async def _post(self, path: str, document: dict[str, object], key: str) -> dict[str, object]:
        # The key makes a retried request charge or refund once.
        headers = {"Idempotency-Key": key, "User-Agent": "Regio-Payments/1"}
        try:
            response = await webhooks.post_signed(
                self._client, self.url + path, _body(document), secret=self._secret, headers=headers
            )
        except webhooks.SignedPostFailed as exc:
            raise GatewayFailed(reason=str(exc)) from None
        try:
            answer = response.json()
        except ValueError:
            raise GatewayFailed(reason="not JSON") from None
        if not isinstance(answer, dict):
            raise GatewayFailed(reason="not an object")
        return answer

    async def create_payment(
        self, *, reference: str, amount_fen: int, description: str, notify_url: str
    ) -> PaymentStart:
        answer = await self._post(
            "/payments",
            {
                "reference": reference,
                "amount_fen": amount_fen,
                "description": description,
                "notify_url": notify_url,
            },
            reference,
        )
        transaction, pay_url = answer.get("transaction_id"), answer.get("pay_url")
        if not isinstance(transaction, str) or not 1 <= len(transaction) <= 64:
            raise GatewayFailed(reason="no transaction_id")
        return PaymentStart(transaction_id=transaction, pay_url=pay_url if isinstance(pay_url, str) else None)

    async def refund(self, *, reference: str, refund_reference: str, amount_fen: int) -> str:
        answer = await self._post(
            "/refunds",
            {"reference": reference, "refund_reference": refund_reference, "amount_fen": amount_fen},
            refund_reference,
        )
        refund_id = answer.get("refund_id")
        if not isinstance(refund_id, str) or not 1 <= len(refund_id) <= 64:
            raise GatewayFailed(reason="no refund_id")
        return refund_id


@dataclass
class MemoryGateway:
    """For tests and the laptop demo: remembers payments and refunds; the patient "pays" on a local page
    that sends the signed notification a real gateway would."""

    name: str = "memory"
    payments: dict[str, int] = field(default_factory=dict)  # reference → amount
    refunds: list[tuple[str, int]] = field(default_factory=list)
    fail_next: int = 0

    async def create_payment(
        self, *, reference: str, amount_fen: int, description: str, notify_url: str
    ) -> PaymentStart:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise GatewayFailed(reason="told to fail")
        self.payments[reference] = amount_fen
        return PaymentStart(transaction_id="MEM" + uuid.uuid4().hex[:16].upper(), pay_url=None)

    async def refund(self, *, reference: str, refund_reference: str, amount_fen: int) -> str:
        self.refunds.append((reference, amount_fen))
        return "MEMR" + uuid.uuid4().hex[:12].upper()


class UnconfiguredGateway:
    """Production without REGIO_PAYMENT_GATEWAY_URL: paying is refused with a clear 503."""

    name = "unconfigured"

    async def create_payment(
        self, *, reference: str, amount_fen: int, description: str, notify_url: str
    ) -> PaymentStart:
        raise GatewayUnavailable(reason="not_configured")

    async def refund(self, *, reference: str, refund_reference: str, amount_fen: int) -> str:
        raise GatewayUnavailable(reason="not_configured")


def notification_body(*, event_id: str, reference: str, status: str, amount_fen: int) -> bytes:
    """A notification as a gateway sends it (the demo's payment page and tests use it)."""
    return _body({"event_id": event_id, "reference": reference, "status": status, "amount_fen": amount_fen})


_memory: dict[str, MemoryGateway] = {}


def gateway_secret(settings: Settings) -> str:
    """The gateway's own HMAC key; on a laptop, where there is none, the platform's webhook key."""
    return settings.payment_gateway_secret or settings.webhook_secret


def memory_gateway() -> MemoryGateway:
    return _memory.setdefault("memory", MemoryGateway())


def gateway_for(settings: Settings, environ: Mapping[str, str] | None = None) -> Gateway:
    """HTTP when REGIO_PAYMENT_GATEWAY_URL is set; in development and tests one in-memory gateway per
    process; otherwise none (paying is refused rather than pretended)."""
    url = (environ.get(GATEWAY_URL_ENV, "") if environ is not None else settings.payment_gateway_url).strip()
    if url:
        return HttpGateway(url, secret=gateway_secret(settings))
    if settings.environment in ("development", "test"):
        return memory_gateway()
    return UnconfiguredGateway()
