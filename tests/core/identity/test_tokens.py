"""Bearer tokens: signed, expiring, refused when tampered with; API clients act as themselves."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select, update

from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import utcnow
from regio.core.identity import tokens
from regio.core.identity.models import ApiClient, User
from tests.factories import client_headers, login_headers, make_api_client, make_user, token_headers

SECRET = "unit-secret-" + "k" * 32


def _issue(subject: str = "u:1", ttl: int = 60, now: int | None = None, secret: str = SECRET) -> str:
    return tokens.issue_access_token(
        secret_key=secret, subject=subject, now=now if now is not None else 1_000_000, ttl_seconds=ttl
    )


def test_a_token_reads_back_its_subject_and_expiry():
    claims = tokens.read_access_token(_issue("u:42", ttl=60), secret_key=SECRET, now=1_000_030)
    assert claims.subject == "u:42"
    assert claims.expires_at == 1_000_060


def test_a_token_is_refused_from_the_second_it_expires():
    token = _issue(ttl=60)
    tokens.read_access_token(token, secret_key=SECRET, now=1_000_059)
    with pytest.raises(tokens.TokenInvalid) as caught:
        tokens.read_access_token(token, secret_key=SECRET, now=1_000_060)
    assert caught.value.reason == "expired"


def test_a_token_with_an_edited_payload_is_refused():
    prefix, payload, mac = _issue("u:1").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "u:2"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(tokens.TokenInvalid) as caught:
        tokens.read_access_token(f"{prefix}.{forged}.{mac}", secret_key=SECRET, now=1_000_000)
    assert caught.value.reason == "bad_signature"


def test_a_token_signed_with_another_key_is_refused():
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_access_token(_issue(secret="another-" + "s" * 32), secret_key=SECRET, now=1_000_000)


@pytest.mark.parametrize(
    "garbage", ["", "a.b", "rt1..", "rt1.x.y.z", "rt2.e30.abc", "rt1.!!!.???", "rt1.e30.é"]
)
def test_garbage_tokens_are_refused_as_tokens_not_crashes(garbage: str):
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_access_token(garbage, secret_key=SECRET, now=1_000_000)


def test_a_csrf_cookie_mac_cannot_be_replayed_as_an_access_token():
    # Keys are derived per purpose: a value signed for one use is worthless for another.
    cookie = tokens.new_visitor_csrf_cookie(secret_key=SECRET)
    nonce, mac = cookie.split(".")
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_access_token(f"rt1.{nonce}.{mac}", secret_key=SECRET, now=1_000_000)


async def test_an_expired_token_gets_401_invalid_token(db, client, settings):
    user = await make_user(db, username="expired")
    stale = tokens.issue_access_token(
        secret_key=settings.secret_key,
        subject=f"u:{user.id}",
        now=int(utcnow().timestamp()) - 7200,
        ttl_seconds=3600,
    )
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {stale}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert response.json()["error"]["details"]["reason"] == "expired"


async def test_a_tampered_token_gets_401_invalid_token(db, client, settings):
    user = await make_user(db, username="tamper")
    token = token_headers(settings, user)["Authorization"]
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    response = await client.get("/api/auth/me", headers={"Authorization": flipped})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token abc"])
async def test_a_malformed_authorization_header_gets_401_invalid_token(client, header: str):
    response = await client.get("/api/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_no_credentials_at_all_gets_401_not_authenticated(client):
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_a_token_stops_working_when_the_account_is_deactivated(db, client):
    user = await make_user(db, username="leaver")
    headers = await login_headers(client, "leaver")
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    async with db.session() as session, session.begin():
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    response = await client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_me_lists_every_role_with_its_scope(db, client):
    await make_user(
        db,
        username="multi",
        roles=[
            RoleGrant(Role.doctor, ScopeKind.hospital, "12"),
            RoleGrant(Role.doctor, ScopeKind.hospital, "31"),
            Role.patient,
        ],
    )
    body = (await client.get("/api/auth/me", headers=await login_headers(client, "multi"))).json()
    assert body["client_id"] is None
    assert body["roles"] == [
        {"role": "doctor", "scope_kind": "hospital", "scope_id": "12"},
        {"role": "doctor", "scope_kind": "hospital", "scope_id": "31"},
        {"role": "patient", "scope_kind": "platform", "scope_id": ""},
    ]


async def test_an_api_client_gets_a_token_that_acts_as_the_client_with_its_own_grants(db, client):
    client_id, secret = await make_api_client(
        db, grants=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, "7")], name="市一医院检验系统"
    )
    headers = await client_headers(client, client_id, secret)
    body = (await client.get("/api/auth/me", headers=headers)).json()
    assert body["user_id"] is None
    assert isinstance(body["client_id"], int)
    assert body["username"] == f"client:{client_id}"
    assert body["display_name"] == "市一医院检验系统"
    assert body["roles"] == [{"role": "hospital_admin", "scope_kind": "hospital", "scope_id": "7"}]


@pytest.mark.parametrize("which", ["client_secret", "client_id"])
async def test_a_wrong_client_secret_or_unknown_client_is_refused(db, client, which: str):
    client_id, secret = await make_api_client(db)
    body = {"client_id": client_id, "client_secret": secret}
    body[which] = "wrong-" + body[which]
    response = await client.post("/api/auth/client-token", json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_a_deactivated_client_can_neither_get_nor_use_tokens(db, client):
    client_id, secret = await make_api_client(db)
    headers = await client_headers(client, client_id, secret)
    async with db.session() as session, session.begin():
        await session.execute(
            update(ApiClient).where(ApiClient.client_id == client_id).values(is_active=False)
        )
    refused = await client.post(
        "/api/auth/client-token", json={"client_id": client_id, "client_secret": secret}
    )
    assert refused.status_code == 401
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_client_secrets_are_stored_only_as_hashes(db):
    client_id, secret = await make_api_client(db)
    async with db.session() as session:
        stored = (
            await session.execute(select(ApiClient).where(ApiClient.client_id == client_id))
        ).scalar_one()
    assert secret not in stored.secret_hash
    assert stored.secret_hash == tokens.hash_token(secret)
