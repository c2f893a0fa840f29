"""The SMS gateways: a signed JSON POST for real, memory for tests and the demo, a clear refusal when unset."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest

from regio.config import Settings
from regio.core import webhooks
from regio.core.sms import (
    SMS_URL_ENV,
    DeferredSmsGateway,
    HttpSmsGateway,
    MemorySmsGateway,
    SmsDeliveryFailed,
    SmsMessage,
    SmsUnavailable,
    UnconfiguredSmsGateway,
    sms_gateway_for,
)

SECRET = "sms-test-secret-" + "s" * 32
URL = "https://sms.example.test/send"
MESSAGE = SmsMessage(phone="13812345678", text="【Regio】验证码 123456", purpose="patient.claim")


def _gateway(handler: Callable[[httpx.Request], httpx.Response]) -> HttpSmsGateway:
    return HttpSmsGateway(
        URL, secret=SECRET, client=httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )


async def test_the_http_gateway_posts_json_signed_with_the_webhook_scheme() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    await _gateway(handler).send(MESSAGE)
    [request] = seen
    assert str(request.url) == URL and request.method == "POST"
    assert json.loads(request.content) == {
        "id": MESSAGE.id,
        "phone": "13812345678",
        "text": "【Regio】验证码 123456",
        "purpose": "patient.claim",
    }
    # a receiver checks it with the same function webhooks use, and a wrong key fails
    webhooks.check_signature(
        request.content, request.headers[webhooks.SIGNATURE_HEADER], secret=SECRET, tolerance_seconds=60
    )
    with pytest.raises(webhooks.WebhookBadSignature):
        webhooks.check_signature(
            request.content, request.headers[webhooks.SIGNATURE_HEADER], secret="other", tolerance_seconds=60
        )
    assert request.headers["Regio-Message-Id"] == MESSAGE.id


@pytest.mark.parametrize("status", [400, 500, 302])
async def test_a_refusal_by_the_gateway_raises_without_naming_the_phone(status: int) -> None:
    gateway = _gateway(lambda request: httpx.Response(status, headers={"Location": "https://elsewhere.test"}))
    with pytest.raises(SmsDeliveryFailed) as caught:
        await gateway.send(MESSAGE)
    assert str(status) in str(caught.value) and "13812345678" not in str(caught.value)


async def test_a_network_failure_raises_without_naming_the_phone() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("cannot reach 13812345678", request=request)

    with pytest.raises(SmsDeliveryFailed) as caught:
        await _gateway(handler).send(MESSAGE)
    assert "13812345678" not in str(caught.value)


def test_the_http_gateway_refuses_a_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match=SMS_URL_ENV):
        HttpSmsGateway("file:///etc/passwd", secret=SECRET)
    assert SECRET not in repr(HttpSmsGateway(URL, secret=SECRET))


async def test_the_memory_gateway_keeps_messages_and_finds_the_latest_code() -> None:
    gateway = MemorySmsGateway()
    await gateway.send(MESSAGE)
    await gateway.send(SmsMessage(phone="13812345678", text="验证码 654321，10 分钟内有效", purpose="x"))
    await gateway.send(SmsMessage(phone="13900000000", text="验证码 111111", purpose="x"))
    assert gateway.last_code("13812345678") == "654321"
    assert gateway.last_code("13700000000") is None
    assert len(gateway.to("13812345678")) == 2


async def test_an_unconfigured_gateway_refuses_with_503() -> None:
    with pytest.raises(SmsUnavailable) as caught:
        await UnconfiguredSmsGateway().send(MESSAGE)
    assert caught.value.status == 503 and caught.value.code == "sms_unavailable"


def _settings(environment: str) -> Settings:
    secret = "k" * 40
    return Settings(
        environment=environment, secret_key=secret, data_key=secret, webhook_secret=secret, cookie_secure=True
    )


def test_the_factory_picks_http_when_the_url_is_set_and_never_pretends_in_production() -> None:
    chosen = sms_gateway_for(_settings("production"), {SMS_URL_ENV: URL})
    assert isinstance(chosen, HttpSmsGateway) and chosen.url == URL
    assert isinstance(sms_gateway_for(_settings("production"), {}), UnconfiguredSmsGateway)
    demo = sms_gateway_for(_settings("development"), {})
    assert isinstance(demo, MemorySmsGateway) and demo.echo is True
    test = sms_gateway_for(_settings("test"), {})
    assert isinstance(test, MemorySmsGateway) and test.echo is False


def test_the_factory_reads_the_url_from_the_settings() -> None:
    configured = _settings("production").model_copy(update={"sms_url": URL})
    chosen = sms_gateway_for(configured)
    assert isinstance(chosen, HttpSmsGateway) and chosen.url == URL


async def test_a_deferred_gateway_sends_only_when_its_job_runs_and_logs_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs: list[Callable[[], Awaitable[None]]] = []
    memory = MemorySmsGateway()
    await DeferredSmsGateway(memory, jobs.append).send(MESSAGE)
    assert memory.sent == [] and len(jobs) == 1
    await jobs[0]()
    assert memory.sent == [MESSAGE]

    await DeferredSmsGateway(UnconfiguredSmsGateway(), jobs.append).send(MESSAGE)
    with caplog.at_level(logging.WARNING, logger="regio.sms"):
        await jobs[1]()  # a failed send must not raise into the server after the answer went out
    assert "was not sent" in caplog.text
