"""Sign-in through the API: tokens for the right password, refusals and locks for the wrong ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.core.identity import passwords, service
from regio.core.identity.errors import InvalidCredentials, LoginLocked
from regio.core.identity.models import User
from tests.factories import TEST_PASSWORD, make_user


@pytest.fixture(autouse=True)
def no_failure_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pause is tested on its own below; elsewhere it would only slow the suite.
    monkeypatch.setattr(service, "FAILURE_PAUSE_BASE_SECONDS", 0.0)


async def _user_row(db: Database, username: str) -> User:
    async with db.session() as session:
        return (await session.execute(select(User).where(User.username == username))).scalar_one()


async def test_the_right_password_gives_a_bearer_token_that_names_the_user(db, client: httpx.AsyncClient):
    await make_user(db, username="wang", display_name="王医生")
    response = await client.post("/api/auth/token", json={"username": "wang", "password": TEST_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60 * 60
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "wang"
    assert me.json()["display_name"] == "王医生"


async def test_usernames_are_matched_without_regard_to_case_or_spaces(db, client):
    await make_user(db, username="lina")
    response = await client.post("/api/auth/token", json={"username": "  LiNa ", "password": TEST_PASSWORD})
    assert response.status_code == 200


async def test_a_wrong_password_is_refused_with_invalid_credentials(db, client):
    await make_user(db, username="zhao")
    response = await client.post("/api/auth/token", json={"username": "zhao", "password": "not-the-password"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_credentials"
    assert error["message_zh"] == "用户名或密码错误。"
    assert error["message_en"] == "Wrong username or password."


async def test_an_unknown_username_gets_the_same_answer_and_still_costs_one_verification(
    db, client, monkeypatch: pytest.MonkeyPatch
):
    await make_user(db, username="known")
    verified: list[str] = []
    real = passwords.verify_sync

    def counting(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_sync", counting)
    unknown = await client.post("/api/auth/token", json={"username": "nobody", "password": "whatever-1"})
    known = await client.post("/api/auth/token", json={"username": "known", "password": "whatever-1"})
    assert unknown.status_code == known.status_code == 401
    assert unknown.json()["error"] == known.json()["error"]
    assert len(verified) == 2
    assert verified[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_a_deactivated_account_cannot_sign_in_even_with_the_right_password(db, client):
    await make_user(db, username="gone", active=False)
    response = await client.post("/api/auth/token", json={"username": "gone", "password": TEST_PASSWORD})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_missing_fields_are_a_validation_error_not_a_crash(client):
    response = await client.post("/api/auth/token", json={"username": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_the_fifth_wrong_password_locks_the_account_and_the_right_one_is_then_refused(
    db, client, settings: Settings
):
    await make_user(db, username="target")
    codes = []
    for _ in range(settings.login_max_failures):
        response = await client.post(
            "/api/auth/token", json={"username": "target", "password": "guess-guess"}
        )
        codes.append(response.json()["error"]["code"])
    assert codes == ["invalid_credentials"] * (settings.login_max_failures - 1) + ["login_locked"]
    locked = await client.post("/api/auth/token", json={"username": "target", "password": TEST_PASSWORD})
    assert locked.status_code == 429
    error = locked.json()["error"]
    assert error["code"] == "login_locked"
    retry = error["details"]["retry_after_seconds"]
    assert settings.login_lock_minutes * 60 - 5 <= retry <= settings.login_lock_minutes * 60
    assert locked.headers["Retry-After"] == str(retry)
    assert str(retry) in error["message_zh"]


async def test_a_lapsed_lock_lets_the_right_password_in_and_starts_the_count_afresh(db, client, settings):
    await make_user(db, username="patient1")
    async with db.session() as session, session.begin():
        await session.execute(
            update(User)
            .where(User.username == "patient1")
            .values(failed_logins=settings.login_max_failures, locked_until=utcnow() - timedelta(seconds=1))
        )
    response = await client.post("/api/auth/token", json={"username": "patient1", "password": TEST_PASSWORD})
    assert response.status_code == 200
    row = await _user_row(db, "patient1")
    assert row.failed_logins == 0
    assert row.locked_until is None
    assert row.last_login_at is not None


async def test_a_lapsed_lock_counts_a_new_wrong_guess_as_the_first(db, client, settings):
    await make_user(db, username="patient2")
    async with db.session() as session, session.begin():
        await session.execute(
            update(User)
            .where(User.username == "patient2")
            .values(failed_logins=settings.login_max_failures, locked_until=utcnow() - timedelta(seconds=1))
        )
    response = await client.post("/api/auth/token", json={"username": "patient2", "password": "guess-guess"})
    assert response.json()["error"]["code"] == "invalid_credentials"
    row = await _user_row(db, "patient2")
    assert row.failed_logins == 1
    assert row.locked_until is None


async def test_success_resets_the_failure_counter(db, client, settings):
    await make_user(db, username="forgetful")
    for _ in range(settings.login_max_failures - 1):
        await client.post("/api/auth/token", json={"username": "forgetful", "password": "guess-guess"})
    assert (await _user_row(db, "forgetful")).failed_logins == settings.login_max_failures - 1
    ok = await client.post("/api/auth/token", json={"username": "forgetful", "password": TEST_PASSWORD})
    assert ok.status_code == 200
    assert (await _user_row(db, "forgetful")).failed_logins == 0
    # A fresh allowance: one more wrong guess does not lock.
    again = await client.post("/api/auth/token", json={"username": "forgetful", "password": "guess-guess"})
    assert again.json()["error"]["code"] == "invalid_credentials"


async def test_concurrent_wrong_guesses_cannot_check_more_passwords_than_the_limit(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    await make_user(db, username="besieged")
    checks: list[str] = []
    real = passwords.verify_sync

    def counting(password_hash: str, password: str) -> bool:
        checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_sync", counting)

    async def guess(number: int) -> object:
        async with db.session() as session:
            try:
                return await service.login(
                    session=session, settings=settings, username="besieged", password=f"guess-{number:04d}"
                )
            except (InvalidCredentials, LoginLocked) as exc:
                return exc

    # return_exceptions: every task ends (and releases its row locks) before the test judges them.
    outcomes = await asyncio.gather(*(guess(n) for n in range(20)), return_exceptions=True)
    limit = settings.login_max_failures
    assert len(checks) == limit
    assert sum(isinstance(o, InvalidCredentials) for o in outcomes) == limit - 1
    assert sum(isinstance(o, LoginLocked) for o in outcomes) == 20 - (limit - 1)
    row = await _user_row(db, "besieged")
    assert row.failed_logins == limit
    assert row.locked_until is not None and row.locked_until > utcnow()


async def test_concurrent_right_and_wrong_passwords_never_exceed_the_limit_either(
    db: Database, settings: Settings
):
    await make_user(db, username="mixed")

    async def attempt(number: int) -> object:
        password = TEST_PASSWORD if number % 7 == 0 else f"guess-{number}"
        async with db.session() as session:
            try:
                return await service.login(
                    session=session, settings=settings, username="mixed", password=password
                )
            except (InvalidCredentials, LoginLocked) as exc:
                return exc

    # return_exceptions: every task ends (and releases its row locks) before the test judges them.
    outcomes = await asyncio.gather(*(attempt(n) for n in range(20)), return_exceptions=True)
    # Whatever the interleaving, every attempt is answered and the counter stays within bounds.
    assert all(isinstance(o, User | InvalidCredentials | LoginLocked) for o in outcomes)
    row = await _user_row(db, "mixed")
    assert 0 <= row.failed_logins <= settings.login_max_failures


def test_failed_sign_ins_are_slowed_more_the_more_they_repeat(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service, "FAILURE_PAUSE_BASE_SECONDS", 0.1)
    pauses = [service.failure_pause_seconds(n) for n in range(1, 10)]
    assert pauses[0] > 0
    assert pauses == sorted(pauses)
    assert pauses[3] > pauses[0]
    assert max(pauses) <= service.FAILURE_PAUSE_MAX_SECONDS


async def test_a_failed_sign_in_waits_before_answering(db, settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service, "FAILURE_PAUSE_BASE_SECONDS", 0.3)
    await make_user(db, username="slow")
    loop = asyncio.get_running_loop()
    async with db.session() as session:
        started = loop.time()
        with pytest.raises(InvalidCredentials):
            await service.login(session=session, settings=settings, username="slow", password="guess-guess")
        assert loop.time() - started >= 0.3
