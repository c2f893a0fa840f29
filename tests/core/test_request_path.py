"""The per-request path stays cheap without changing what it decides: headers, principals, masking, pool."""

from __future__ import annotations

import logging

import httpx
from sqlalchemy import update

from regio.config import Settings
from regio.core.access import Role
from regio.core.db import Database, make_engine
from regio.core.identity import repository
from regio.core.identity.models import RoleAssignment, User
from regio.core.masking import _mask_record
from tests.factories import make_user, token_headers


async def test_every_answer_carries_the_request_id_and_security_headers(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz", headers={"X-Request-ID": "req-42"})
    assert answer.headers["X-Request-ID"] == "req-42"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    fresh = await client.get("/healthz")
    assert len(fresh.headers["X-Request-ID"]) == 32


async def test_a_chosen_language_is_remembered_in_a_cookie_and_used_for_errors(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/does-not-exist?lang=en")
    assert answer.status_code == 404
    assert "regio_lang=en" in answer.headers.get("set-cookie", "")
    assert answer.headers["X-Request-ID"]


async def test_a_refused_nul_answer_still_carries_the_request_headers(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz?q=%00", headers={"X-Request-ID": "nul-1"})
    assert answer.status_code == 422
    assert answer.headers["X-Request-ID"] == "nul-1"


async def test_a_bearer_token_stops_working_at_once_when_its_user_is_deactivated(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    user = await make_user(db, roles=[Role.patient])
    headers = token_headers(settings, user)
    assert (await client.get("/api/care/appointments", headers=headers)).status_code == 200
    async with db.session() as session, session.begin():
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    answer = await client.get("/api/care/appointments", headers=headers)
    assert answer.status_code == 401


async def test_the_principal_is_read_in_one_query_with_every_grant_or_none(db: Database) -> None:
    user = await make_user(db, roles=[Role.patient, Role.regulator])
    bare = await make_user(db)
    async with db.session() as session:
        loaded = await repository.active_user_with_grants(session, user.id)
        nobody = await repository.active_user_with_grants(session, bare.id)
        missing = await repository.active_user_with_grants(session, 10**9)
    assert loaded is not None and {grant.role for grant in loaded.grants} == {Role.patient, Role.regulator}
    assert loaded.username == user.username
    assert nobody is not None and nobody.grants == []  # a user without roles is still a user
    assert missing is None


async def test_a_removed_grant_is_gone_from_the_next_request(db: Database) -> None:
    user = await make_user(db, roles=[Role.patient, Role.regulator])
    async with db.session() as session, session.begin():
        rows = (await session.execute(RoleAssignment.__table__.select())).all()
        assert rows
        await session.execute(
            RoleAssignment.__table__.delete().where(
                RoleAssignment.user_id == user.id, RoleAssignment.role == Role.regulator.value
            )
        )
    async with db.session() as session:
        loaded = await repository.active_user_with_grants(session, user.id)
    assert loaded is not None and [grant.role for grant in loaded.grants] == [Role.patient]


def _record(msg: str, args: tuple[object, ...]) -> logging.LogRecord:
    return logging.LogRecord("regio.test", logging.INFO, __file__, 1, msg, args, None)


def test_a_log_line_without_long_digit_runs_is_left_exactly_as_it_was() -> None:
    args = ("127.0.0.1:5555", "POST", "/api/care/appointments", "1.1", 201)
    record = _record('%s - "%s %s HTTP/%s" %d', args)
    _mask_record(record)
    assert record.args is args
    assert record.getMessage() == '127.0.0.1:5555 - "POST /api/care/appointments HTTP/1.1" 201'


def test_a_number_in_a_text_argument_is_masked_even_where_the_message_cuts_it_short() -> None:
    record = _record("phone %.3s", ("13812345678",))
    _mask_record(record)
    assert record.args == ("138****5678",)


def test_a_number_that_only_appears_once_formatted_is_still_masked() -> None:
    record = _record("id %s%s", ("3301061990", "01011234"))
    _mask_record(record)
    assert "19900101" not in record.getMessage()


def test_the_pool_holds_the_configured_number_of_connections_and_no_more() -> None:
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=7)
    assert engine.pool.size() == 7  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    assert Settings(environment="test").database_pool_size == 20


def test_request_ids_stay_random_and_distinct_when_drawn_in_batches() -> None:
    from regio.app import _RandomIds

    ids = _RandomIds()
    drawn = [ids.next() for _ in range(1000)]  # crosses several 4 KiB refills
    assert len(set(drawn)) == 1000
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in drawn)
