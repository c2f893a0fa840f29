"""Where a request came from: X-Forwarded-For counts only when the direct peer is a trusted proxy."""

from __future__ import annotations

from ipaddress import ip_network

import httpx
import pytest
from sqlalchemy import select

from regio.app import create_app
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.deps import forwarded_client
from regio.core.identity.models import LoginSession
from tests.factories import TEST_PASSWORD, browser_login, make_user

PROXIES = (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"))
FORGED = {"X-Forwarded-For": "203.0.113.9"}


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert forwarded_client("198.51.100.7", "203.0.113.9", ()) == "198.51.100.7"


def test_a_header_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() -> None:
    assert forwarded_client("198.51.100.7", "203.0.113.9", PROXIES) == "198.51.100.7"


def test_behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() -> None:
    # The client wrote the left part itself; only what the proxies appended is believed.
    chain = "1.2.3.4, 203.0.113.9, 10.1.1.1"
    assert forwarded_client("10.0.0.2", chain, PROXIES) == "203.0.113.9"


def test_garbage_in_the_chain_stops_at_the_last_hop_a_proxy_vouched_for() -> None:
    assert forwarded_client("10.0.0.2", "203.0.113.9, not-an-ip, 10.1.1.1", PROXIES) == "10.1.1.1"
    assert forwarded_client("10.0.0.2", "", PROXIES) == "10.0.0.2"


def test_a_chain_of_only_trusted_proxies_gives_the_farthest_of_them() -> None:
    assert forwarded_client("10.0.0.2", "10.9.9.9, 10.1.1.1", PROXIES) == "10.9.9.9"


def test_ipv6_proxies_and_clients_are_understood() -> None:
    trusted = (ip_network("fd00::/8"),)
    assert forwarded_client("fd00::1", "2001:db8::5", trusted) == "2001:db8::5"
    assert forwarded_client("2001:db8::9", "2001:db8::5", trusted) == "2001:db8::9"


async def _audited_ips(db: Database, action: str) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(select(AuditEntry.ip).where(AuditEntry.action == action))
        return list(rows.scalars())


async def test_a_forged_forwarded_header_from_an_untrusted_peer_does_not_reach_the_audit_trail(
    db, client: httpx.AsyncClient
):
    await make_user(db, username="forger")
    response = await client.post(
        "/api/auth/token", json={"username": "forger", "password": TEST_PASSWORD}, headers=FORGED
    )
    assert response.status_code == 200
    assert await _audited_ips(db, "auth.token") == ["127.0.0.1"]


async def test_a_page_sign_in_records_the_peer_not_a_forged_header(db, client: httpx.AsyncClient):
    await make_user(db, username="pageforger")
    client.headers.update(FORGED)
    await browser_login(client, "pageforger")
    async with db.session() as session:
        assert (await session.execute(select(LoginSession.ip))).scalars().all() == ["127.0.0.1"]
    assert await _audited_ips(db, "auth.login") == ["127.0.0.1"]


async def test_behind_a_trusted_proxy_the_forwarded_client_is_audited(db, settings):
    await make_user(db, username="proxied")
    app = create_app(settings=settings.model_copy(update={"trusted_proxies": "127.0.0.1"}), database=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(
            "/api/auth/token",
            json={"username": "proxied", "password": TEST_PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
        )
    assert response.status_code == 200
    assert await _audited_ips(db, "auth.token") == ["203.0.113.9"]


@pytest.mark.parametrize("value", ["10.0.0.0/8, 127.0.0.1", "::1", ""])
def test_trusted_proxies_are_read_from_a_comma_separated_setting(value: str) -> None:
    from regio.config import Settings

    settings = Settings(environment="test", trusted_proxies=value)
    assert len(settings.trusted_proxy_networks) == len([v for v in value.split(",") if v.strip()])
