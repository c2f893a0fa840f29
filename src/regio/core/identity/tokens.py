"""Signed bearer tokens, session tokens and CSRF tokens: small HMAC-SHA256 constructions, no I/O.

Every use derives its own key from settings.secret_key, so a value signed for one purpose
(a CSRF cookie) can never be replayed as another (an access token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

ACCESS_TOKEN_PREFIX = "rt1"  # noqa: S105 (a format marker, not a secret)


class TokenInvalid(Exception):
    """The token is malformed, tampered with, or expired (reason says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def derive_key(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), b"regio:" + purpose.encode("utf-8"), hashlib.sha256).digest()


def _sign(key: bytes, message: str) -> str:
    return _b64encode(hmac.new(key, message.encode("ascii"), hashlib.sha256).digest())


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str  # "u:<user id>" for a person, "c:<api client row id>" for an institution's system
    issued_at: int
    expires_at: int


def issue_access_token(*, secret_key: str, subject: str, now: int, ttl_seconds: int) -> str:
    """`rt1.<payload>.<mac>`: a compact JSON payload with expiry, MAC over prefix and payload."""
    payload = {"sub": subject, "iat": now, "exp": now + ttl_seconds, "jti": secrets.token_urlsafe(9)}
    body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signed = f"{ACCESS_TOKEN_PREFIX}.{body}"
    return f"{signed}.{_sign(derive_key(secret_key, 'access-token'), signed)}"


def read_access_token(token: str, *, secret_key: str, now: int) -> AccessClaims:
    """Verifies the MAC in constant time before looking at the payload, then the expiry."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != ACCESS_TOKEN_PREFIX or len(token) > 2048:
        raise TokenInvalid("malformed")
    signed = f"{parts[0]}.{parts[1]}"
    expected = _sign(derive_key(secret_key, "access-token"), signed)
    if not hmac.compare_digest(expected.encode("ascii"), parts[2].encode("ascii", "replace")):
        raise TokenInvalid("bad_signature")
    try:
        payload: Any = json.loads(_b64decode(parts[1]))
        claims = AccessClaims(
            subject=str(payload["sub"]), issued_at=int(payload["iat"]), expires_at=int(payload["exp"])
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenInvalid("malformed") from exc
    if claims.expires_at <= now:
        raise TokenInvalid("expired")
    return claims


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps of a session token or client secret: a dump reveals no usable value."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_csrf_token(*, secret_key: str, session_token: str) -> str:
    """The CSRF token of a signed-in session, bound to it and unknowable without the cookie."""
    return _sign(derive_key(secret_key, "session-csrf"), session_token)


def new_visitor_csrf_cookie(*, secret_key: str) -> str:
    """Double-submit value for visitors: a nonce and its MAC, so a planted cookie is refused."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_sign(derive_key(secret_key, 'visitor-csrf'), nonce)}"


def visitor_csrf_cookie_valid(value: str | None, *, secret_key: str) -> bool:
    if not value or len(value) > 200:
        return False
    nonce, _, mac = value.partition(".")
    if not nonce or not mac:
        return False
    expected = _sign(derive_key(secret_key, "visitor-csrf"), nonce)
    return hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii", "replace"))


def csrf_matches(
    presented: str | None,
    *,
    secret_key: str,
    session_token: str | None,
    visitor_cookie: str | None,
) -> bool:
    """With a session cookie, only the session's own token; without one, a genuine visitor cookie's.

    A visitor cookie is never a fallback for a signed-in browser: an attacker can obtain a
    genuine one by visiting, and plant it (a sibling subdomain can set cookies) to forge a form.
    """
    if not presented or len(presented) > 200:
        return False
    given = presented.encode("ascii", "replace")
    if session_token:
        expected = session_csrf_token(secret_key=secret_key, session_token=session_token)
        return hmac.compare_digest(expected.encode("ascii"), given)
    if visitor_cookie and visitor_csrf_cookie_valid(visitor_cookie, secret_key=secret_key):
        return hmac.compare_digest(visitor_cookie.encode("ascii", "replace"), given)
    return False


def throttle_key(*, secret_key: str, kind: str, value: str) -> str:
    """`kind:<keyed hash>` naming a sign-in counter (a username, an address) without storing it."""
    digest = hmac.new(derive_key(secret_key, "login-throttle"), value.encode("utf-8"), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()}"


def new_client_credentials() -> tuple[str, str]:
    """A public client id and a 256-bit secret shown once."""
    return "ic_" + secrets.token_hex(8), secrets.token_urlsafe(32)


def client_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(secret).encode("ascii"), stored_hash.encode("ascii", "replace"))
