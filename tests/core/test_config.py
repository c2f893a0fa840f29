"""Settings refuse what is unsafe outside a laptop: placeholder secrets, cookies over plain HTTP, bad proxies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from regio.config import Settings

STRONG = {
    "secret_key": "s" * 40,
    "data_key": "d" * 40,
    "webhook_secret": "w" * 40,
}


def test_production_refuses_session_cookies_that_may_travel_over_plain_http() -> None:
    with pytest.raises(ValidationError, match="REGIO_COOKIE_SECURE must be true"):
        Settings(environment="production", cookie_secure=False, **STRONG)


def test_production_with_secure_cookies_and_real_secrets_is_accepted() -> None:
    settings = Settings(environment="production", cookie_secure=True, **STRONG)
    assert settings.cookie_secure is True


@pytest.mark.parametrize("environment", ["development", "test"])
def test_a_laptop_may_use_plain_http_cookies(environment: str) -> None:
    assert Settings(environment=environment, cookie_secure=False).cookie_secure is False


def test_the_secure_cookie_rule_reads_the_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIO_ENVIRONMENT", "staging")
    for name, value in STRONG.items():
        monkeypatch.setenv(f"REGIO_{name.upper()}", value)
    with pytest.raises(ValidationError, match="REGIO_COOKIE_SECURE"):
        Settings()
    monkeypatch.setenv("REGIO_COOKIE_SECURE", "true")
    assert Settings().cookie_secure is True


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "10.0.0.1,,nonsense"])
def test_a_malformed_trusted_proxy_stops_start_up(value: str) -> None:
    with pytest.raises(ValidationError, match="REGIO_TRUSTED_PROXIES"):
        Settings(environment="test", trusted_proxies=value)


def test_the_per_address_login_limit_defaults_to_fifty_in_fifteen_minutes() -> None:
    settings = Settings(environment="test")
    assert (settings.login_max_failures_per_ip, settings.login_ip_window_minutes) == (50, 15)
