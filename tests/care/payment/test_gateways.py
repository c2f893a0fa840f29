"""The HTTP payment gateway: signed requests with an idempotency key, the gateway's ids read back, and
clear refusals when it answers badly; the in-memory one stands in only outside production."""

from __future__ import annotations

import json

import httpx
import pytest

from regio.care.payment import gateways
from regio.config import Settings
from regio.core import webhooks


async def test_payments_and_refunds_are_signed_posts_with_an_idempotency_key(settings: Settings) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/payments":
            return httpx.Response(201, json={"transaction_id": "T-1", "pay_url": "https://pay.example/T-1"})
        if request.url.path == "/v1/refunds":
            return httpx.Response(200, json={"refund_id": "R-1"})
        return httpx.Response(404)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    gateway = gateways.HttpGateway("https://pay.example/v1/", secret="gateway-secret", client=client)
    started = await gateway.create_payment(
        reference="CS1", amount_fen=2500, description="问诊费", notify_url="https://regio.example/n"
    )
    assert started == gateways.PaymentStart(transaction_id="T-1", pay_url="https://pay.example/T-1")
    assert await gateway.refund(reference="CS1", refund_reference="CS1-R2500", amount_fen=2500) == "R-1"
    payment, refund = seen
    assert payment.headers["Idempotency-Key"] == "CS1" and refund.headers["Idempotency-Key"] == "CS1-R2500"
    for request in seen:
        webhooks.check_signature(
            request.content,
            request.headers[webhooks.SIGNATURE_HEADER],
            secret="gateway-secret",
            tolerance_seconds=60,
        )
    assert json.loads(payment.content)["amount_fen"] == 2500
    await client.aclose()


@pytest.mark.parametrize(
    "reply",
    [httpx.Response(500), httpx.Response(200, json={"no": "id"}), httpx.Response(200, content=b"not json")],
)
async def test_a_bad_answer_is_a_clear_502_and_nothing_is_assumed(reply: httpx.Response) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: reply))
    gateway = gateways.HttpGateway("https://pay.example", secret="s", client=client)
    with pytest.raises(gateways.GatewayFailed) as failed:
        await gateway.create_payment(reference="CS2", amount_fen=1, description="x", notify_url="https://r/n")
    assert failed.value.status == 502
    await client.aclose()


def test_production_without_a_gateway_refuses_rather_than_pretends(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    assert isinstance(gateways.gateway_for(production, environ={}), gateways.UnconfiguredGateway)
    assert isinstance(gateways.gateway_for(settings, environ={}), gateways.MemoryGateway)
    chosen = gateways.gateway_for(settings, environ={gateways.GATEWAY_URL_ENV: "https://pay.example"})
    assert isinstance(chosen, gateways.HttpGateway)
