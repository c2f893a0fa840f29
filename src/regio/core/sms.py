"""Text messages to mobile phones: one small Protocol, a real HTTP gateway and an in-memory one.

The real gateway POSTs JSON `{"id", "phone", "text", "purpose"}` to the URL in REGIO_SMS_URL (an
SMS provider's endpoint or a relay in front of one), signed with the platform's one webhook
scheme (`regio.core.webhooks.sign`: HMAC-SHA256 over `timestamp.body` in the Regio-Signature
header, keyed with settings.webhook_secret), so the receiver can refuse forged and replayed sends.
The in-memory gateway keeps what was sent, for tests and the laptop demo (where it also logs each
message, so a demo user can read the code from the server's output).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from regio.config import Settings
from regio.core import webhooks
from regio.core.errors import DomainError

log = logging.getLogger("regio.sms")

SMS_URL_ENV = "REGIO_SMS_URL"
SEND_TIMEOUT_SECONDS = 10.0
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """One text to one phone; `id` stays the same across retries so a relay can drop duplicates."""

    phone: str
    text: str
    purpose: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class SmsGateway(Protocol):
    """Where text messages go; raises when a message could not be handed over."""

    async def send(self, message: SmsMessage) -> None: ...


class SmsUnavailable(DomainError):
    status = 503
    code = "sms_unavailable"
    message_en = "Text messages cannot be sent right now; please try again later."
    message_zh = "短信暂时无法发送，请稍后再试。"


class SmsDeliveryFailed(Exception):
    """The gateway answered, but not with success. The text never names the phone."""


def sms_body(message: SmsMessage) -> bytes:
    """The exact bytes POSTed and signed."""
    document = {"id": message.id, "phone": message.phone, "text": message.text, "purpose": message.purpose}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


class HttpSmsGateway:
    """The real thing: a signed JSON POST per message over one pooled httpx client."""

    def __init__(
        self,
        url: str,
        *,
        secret: str,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{SMS_URL_ENV} must be an http(s) URL")
        self.url = url
        self._secret = secret
        # No redirects: a signed message goes where it was addressed, nowhere else.
        self._client = client or httpx.AsyncClient(follow_redirects=False, timeout=timeout_seconds)

    def __repr__(self) -> str:
        return f"HttpSmsGateway({self.url!r}, secret=<hidden>)"

    async def send(self, message: SmsMessage) -> None:
        headers = {"Regio-Message-Id": message.id, "User-Agent": "Regio-SMS/1"}
        try:
            await webhooks.post_signed(
                self._client, self.url, sms_body(message), secret=self._secret, headers=headers
            )
        except webhooks.SignedPostFailed as exc:
            raise SmsDeliveryFailed(f"{exc} from the SMS gateway") from None

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class MemorySmsGateway:
    """For tests and the demo: keeps every message; with echo, also logs it (phone masked by the log filter)."""

    sent: list[SmsMessage] = field(default_factory=list)
    echo: bool = False

    async def send(self, message: SmsMessage) -> None:
        self.sent.append(message)
        if self.echo:
            log.info("SMS to %s (%s): %s", message.phone, message.purpose, message.text)

    def to(self, phone: str) -> list[SmsMessage]:
        return [message for message in self.sent if message.phone == phone]

    def last_code(self, phone: str) -> str | None:
        """The 6-digit code in the latest message to a phone, if any."""
        for message in reversed(self.sent):
            if message.phone == phone:
                found = _CODE.search(message.text)
                return found.group(1) if found else None
        return None


class UnconfiguredSmsGateway:
    """Production without REGIO_SMS_URL: every send is refused with a clear 503, nothing is pretended."""

    async def send(self, message: SmsMessage) -> None:
        raise SmsUnavailable(reason="not_configured")


Schedule = Callable[[Callable[[], Awaitable[None]]], None]


class DeferredSmsGateway:
    """Hands each message to `schedule` (e.g. a response's background tasks) instead of sending at once.

    An answer then takes as long whether a code was sent or not, so its timing does not tell a
    caller whether the details they typed matched a record. A failed send is logged; the person
    asks for a new code.
    """

    def __init__(self, gateway: SmsGateway, schedule: Schedule) -> None:
        self._gateway = gateway
        self._schedule = schedule

    async def send(self, message: SmsMessage) -> None:
        gateway = self._gateway

        async def deliver() -> None:
            try:
                await gateway.send(message)
            except Exception as exc:
                log.warning("SMS %s (%s) was not sent: %s", message.id, message.purpose, exc)

        self._schedule(deliver)


def sms_gateway_for(settings: Settings, environ: Mapping[str, str] | None = None) -> SmsGateway:
    """The gateway this process should use: HTTP when REGIO_SMS_URL is set, else memory on a laptop.

    `environ` overrides the settings' URL (tests pass one to try each case).
    """
    url = (environ.get(SMS_URL_ENV, "") if environ is not None else settings.sms_url).strip()
    if url:
        return HttpSmsGateway(url, secret=settings.webhook_secret)
    if settings.environment in ("development", "test"):
        return MemorySmsGateway(echo=settings.environment == "development")
    return UnconfiguredSmsGateway()
