"""Sign-in limits that tell nobody who exists: unknown names lock like known ones; addresses have a budget."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.core.identity import passwords, repository, service
from regio.core.identity.errors import InvalidCredentials, LoginLocked, LoginThrottled
from regio.core.identity.models import LoginThrottle, User
from tests.factories import TEST_PASSWORD, csrf_from_html, make_user

IP = "198.51.100.1"
OTHER_IP = "198.51.100.2"


@pytest.fixture(autouse=True)
def no_failure_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "FAILURE_PAUSE_BASE_SECONDS", 0.0)


async def attempt(db: Database, settings: Settings, username: str, password: str, ip: str = "") -> object:
    async with db.session() as session:
        try:
            return await service.login(
                session=session, settings=settings, username=username, password=password, ip=ip
            )
        except (InvalidCredentials, LoginLocked, LoginThrottled) as exc:
            return exc


async def throttle_rows(db: Database) -> list[LoginThrottle]:
    async with db.session() as session:
        return list((await session.execute(select(LoginThrottle).order_by(LoginThrottle.key))).scalars())


# --- unknown usernames --------------------------------------------------------------------------


async def test_an_unknown_username_answers_exactly_like_a_known_one_up_to_and_past_the_lock(
    db, client: httpx.AsyncClient, settings: Settings
):
    await make_user(db, username="known")

    async def answers(username: str) -> list[tuple[int, str, int | None]]:
        seen = []
        for _ in range(settings.login_max_failures + 1):
            response = await client.post(
                "/api/auth/token", json={"username": username, "password": "guess-guess"}
            )
            error = response.json()["error"]
            retry = error["details"].get("retry_after_seconds")
            seen.append((response.status_code, error["code"], None if retry is None else retry // 60))
        return seen

    known, unknown = await answers("known"), await answers("ghost")
    assert known == unknown
    limit = settings.login_max_failures
    assert [code for _, code, _ in unknown] == ["invalid_credentials"] * (limit - 1) + ["login_locked"] * 2
    assert unknown[-1][0] == 429


async def test_an_unknown_username_is_paused_like_a_known_one(
    db, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    await make_user(db, username="pausedknown")
    pauses: list[int] = []
    monkeypatch.setattr(service, "failure_pause_seconds", lambda failures: pauses.append(failures) or 0.0)
    for name in ("pausedknown", "pausedghost"):
        for _ in range(settings.login_max_failures - 1):
            await attempt(db, settings, name, "guess-guess")
    half = len(pauses) // 2
    assert pauses[:half] == pauses[half:] == list(range(1, settings.login_max_failures))


async def test_the_counter_of_an_unknown_name_stores_a_keyed_hash_not_the_name(db, settings: Settings):
    await attempt(db, settings, "secretname", "guess-guess")
    [row] = await throttle_rows(db)
    assert row.key.startswith("name:") and "secretname" not in row.key
    assert row.failures == 1
    # The key depends on the secret key, so a dump cannot be matched against a list of names.
    other = settings.model_copy(update={"secret_key": "another-secret-" + "q" * 32})
    await attempt(db, other, "secretname", "guess-guess")
    assert len(await throttle_rows(db)) == 2


async def test_concurrent_guesses_on_an_unknown_name_stop_at_the_limit_like_a_known_one(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    checks: list[str] = []
    real = passwords.verify_sync

    def counting(password_hash: str, password: str) -> bool:
        checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_sync", counting)
    outcomes = await asyncio.gather(
        *(attempt(db, settings, "nosuchuser", f"guess-{n:04d}") for n in range(20)), return_exceptions=True
    )
    limit = settings.login_max_failures
    assert len(checks) == limit
    assert sum(isinstance(o, InvalidCredentials) for o in outcomes) == limit - 1
    assert sum(isinstance(o, LoginLocked) for o in outcomes) == 20 - (limit - 1)
    [row] = await throttle_rows(db)
    assert row.failures == limit and row.locked_until is not None and row.locked_until > utcnow()


async def test_a_lapsed_lock_on_an_unknown_name_counts_the_next_guess_as_the_first(db, settings: Settings):
    for _ in range(settings.login_max_failures):
        await attempt(db, settings, "lapsing", "guess-guess")
    async with db.session() as session, session.begin():
        await session.execute(update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
    outcome = await attempt(db, settings, "lapsing", "guess-guess")
    assert isinstance(outcome, InvalidCredentials)
    [row] = await throttle_rows(db)
    assert (row.failures, row.locked_until) == (1, None)


async def test_an_impossible_username_is_refused_without_asking_the_database(
    db, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    async def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("an impossible username reached the database")

    monkeypatch.setattr(repository, "claim_login_attempt", must_not_run)
    monkeypatch.setattr(repository, "claim_name_attempt", must_not_run)
    verified: list[str] = []
    real = passwords.verify_sync
    monkeypatch.setattr(passwords, "verify_sync", lambda h, p: verified.append(p) or real(h, p))
    for name in ("a\x00b", "no spaces allowed", "x", "名字", "a" * 40, "-dash-first"):
        outcome = await attempt(db, settings, name, "guess-guess")
        assert isinstance(outcome, InvalidCredentials), name
    # Each still spends one verification, so it takes as long as any other refusal.
    assert len(verified) == 6
    assert await throttle_rows(db) == []


async def test_a_nul_username_given_straight_to_the_service_is_just_invalid_credentials(
    db, settings: Settings
):
    outcome = await attempt(db, settings, "wang\x00", "guess-guess", ip=IP)
    assert isinstance(outcome, InvalidCredentials)


# --- the per-address budget ---------------------------------------------------------------------


@pytest.fixture
def tight(settings: Settings) -> Settings:
    return settings.model_copy(update={"login_max_failures_per_ip": 3})


async def test_an_address_that_spent_its_failures_is_refused_whatever_username_it_tries(db, tight: Settings):
    await make_user(db, username="victim1")
    await make_user(db, username="bystander")
    for name in ("victim1", "nobody1", "nobody2"):
        assert isinstance(await attempt(db, tight, name, "guess-guess", ip=IP), InvalidCredentials)
    refused = await attempt(db, tight, "bystander", TEST_PASSWORD, ip=IP)
    assert isinstance(refused, LoginThrottled)
    retry = refused.details["retry_after_seconds"]
    assert tight.login_ip_window_minutes * 60 - 5 <= retry <= tight.login_ip_window_minutes * 60
    assert str(retry) in refused.message("zh") and str(retry) in refused.message("en")
    # Another address is not affected, and neither is the bystander's own account.
    assert not isinstance(await attempt(db, tight, "bystander", TEST_PASSWORD, ip=OTHER_IP), Exception)


async def test_the_api_answers_429_login_throttled_with_retry_after(db, settings: Settings):
    from regio.app import create_app

    app = create_app(settings=settings.model_copy(update={"login_max_failures_per_ip": 2}), database=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for n in range(2):
            response = await http.post(
                "/api/auth/token", json={"username": f"spray{n}", "password": "guess-guess"}
            )
            assert response.status_code == 401
        refused = await http.post("/api/auth/token", json={"username": "spray9", "password": "guess-guess"})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "login_throttled"
    assert error["message_zh"].startswith("您所在网络的登录失败次数过多")
    assert refused.headers["Retry-After"] == str(error["details"]["retry_after_seconds"])


async def test_successes_and_locked_refusals_do_not_use_up_an_address_budget(db, tight: Settings):
    await make_user(db, username="regular")
    await make_user(db, username="lockedout")
    async with db.session() as session, session.begin():
        await session.execute(
            update(User)
            .where(User.username == "lockedout")
            .values(failed_logins=5, locked_until=utcnow() + timedelta(minutes=10))
        )
    for _ in range(5):
        assert not isinstance(await attempt(db, tight, "regular", TEST_PASSWORD, ip=IP), Exception)
        assert isinstance(await attempt(db, tight, "lockedout", "guess-guess", ip=IP), LoginLocked)
    for _ in range(tight.login_max_failures_per_ip):
        assert isinstance(await attempt(db, tight, "regular", "guess-guess", ip=IP), InvalidCredentials)
    assert isinstance(await attempt(db, tight, "regular", TEST_PASSWORD, ip=IP), LoginThrottled)


async def test_concurrent_failures_from_one_address_never_exceed_its_budget(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    budget = settings.model_copy(update={"login_max_failures_per_ip": 5, "login_max_failures": 100})
    checks: list[str] = []
    real = passwords.verify_sync
    monkeypatch.setattr(passwords, "verify_sync", lambda h, p: checks.append(p) or real(h, p))
    outcomes = await asyncio.gather(
        *(attempt(db, budget, f"sprayed{n}", "guess-guess", ip=IP) for n in range(20)), return_exceptions=True
    )
    assert len(checks) == 5
    assert sum(isinstance(o, InvalidCredentials) for o in outcomes) == 5
    assert sum(isinstance(o, LoginThrottled) for o in outcomes) == 15


async def test_a_new_window_gives_the_address_a_fresh_budget(db, tight: Settings):
    for n in range(3):
        await attempt(db, tight, f"window{n}", "guess-guess", ip=IP)
    assert isinstance(await attempt(db, tight, "window9", "guess-guess", ip=IP), LoginThrottled)
    async with db.session() as session, session.begin():
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key.startswith("ip:"))
            .values(window_started_at=utcnow() - timedelta(minutes=tight.login_ip_window_minutes, seconds=1))
        )
    assert isinstance(await attempt(db, tight, "window9", "guess-guess", ip=IP), InvalidCredentials)
    [row] = [row for row in await throttle_rows(db) if row.key.startswith("ip:")]
    assert row.failures == 1


async def test_the_address_counter_stores_a_keyed_hash_not_the_address(db, tight: Settings):
    await attempt(db, tight, "someone", "guess-guess", ip=IP)
    keys = [row.key for row in await throttle_rows(db)]
    assert any(key.startswith("ip:") for key in keys)
    assert not any(IP in key for key in keys)


async def test_the_sign_in_page_shows_the_address_refusal_beside_the_form(db, settings: Settings):
    from regio.app import create_app

    app = create_app(settings=settings.model_copy(update={"login_max_failures_per_ip": 1}), database=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        csrf = csrf_from_html((await http.get("/login", headers={"Accept": "text/html"})).text)
        form = {"username": "pagespray", "password": "guess-guess", "csrf_token": csrf}
        first = await http.post("/login", data=form, headers={"Accept": "text/html"})
        second = await http.post("/login", data=form, headers={"Accept": "text/html"})
    assert first.status_code == 401
    assert second.status_code == 429
    assert "您所在网络的登录失败次数过多" in second.text
    assert 'name="username"' in second.text


# --- housekeeping -------------------------------------------------------------------------------


async def test_pruning_forgets_idle_address_counters_but_keeps_locks_and_recent_names(db, settings: Settings):
    now = utcnow()
    long_ago = now - timedelta(days=31)
    async with db.session() as session, session.begin():
        session.add_all(
            [
                LoginThrottle(
                    key="ip:idle", failures=3, window_started_at=long_ago, last_failure_at=long_ago
                ),
                LoginThrottle(key="ip:recent", failures=3, window_started_at=now, last_failure_at=now),
                LoginThrottle(
                    key="name:lockedidle",
                    failures=5,
                    window_started_at=long_ago,
                    last_failure_at=long_ago,
                    locked_until=now + timedelta(minutes=5),
                ),
                LoginThrottle(
                    key="name:idle", failures=2, window_started_at=long_ago, last_failure_at=long_ago
                ),
                LoginThrottle(
                    key="name:weekold",
                    failures=2,
                    window_started_at=now - timedelta(days=7),
                    last_failure_at=now - timedelta(days=7),
                ),
            ]
        )
    await service.prune_login_throttles(db, settings)
    assert [row.key for row in await throttle_rows(db)] == ["ip:recent", "name:lockedidle", "name:weekold"]
