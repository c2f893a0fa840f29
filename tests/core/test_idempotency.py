"""Idempotency keys: a retry gets the first answer and acts no second time, decided by a unique constraint."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core import idempotency, outbox
from regio.core.access import Principal
from regio.core.db import Database, transaction, utcnow
from regio.core.errors import Conflict
from regio.core.outbox import OutboxMessage

ALICE = Principal(user_id=1, username="alice")
BOB = Principal(user_id=2, username="bob")
ROUTE = "POST /api/things"


async def act(
    session: AsyncSession, request: idempotency.IdempotentRequest | None, *, fail: bool = False
) -> idempotency.Answer:
    """A stand-in service: one row written, the key claimed and settled in the same transaction."""
    async with transaction(session):
        await idempotency.claim(session, request)
        if fail:
            raise Conflict(reason="taken")
        outbox.enqueue(session, "test.thing", {"n": 1})
        await session.flush()
        answer = idempotency.Answer(status=201, body={"made": True})
        await idempotency.settle(session, request, status=answer.status, body=answer.body)
    return answer


async def call(
    db: Database,
    principal: Principal,
    key: str | None,
    body: object,
    *,
    fail: bool = False,
    route: str = ROUTE,
) -> idempotency.Answer:
    async with db.sessionmaker() as session:
        request = idempotency.request_for(principal, route=route, key=key, body=body)
        return await idempotency.run(session, request, lambda: act(session, request, fail=fail))


async def things(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_a_retry_with_the_same_key_gets_the_first_answer_and_acts_once(db: Database) -> None:
    first = await call(db, ALICE, "k-1", {"a": 1})
    again = await call(db, ALICE, "k-1", {"a": 1})
    assert first == again == idempotency.Answer(201, {"made": True})
    assert await things(db) == 1


async def test_without_a_key_every_request_acts(db: Database) -> None:
    await call(db, ALICE, None, {"a": 1})
    await call(db, ALICE, None, {"a": 1})
    assert await things(db) == 2


async def test_the_same_key_with_a_different_body_is_refused_422(db: Database) -> None:
    await call(db, ALICE, "k-2", {"a": 1})
    with pytest.raises(idempotency.IdempotencyKeyReused) as refused:
        await call(db, ALICE, "k-2", {"a": 2})
    assert refused.value.status == 422 and refused.value.code == "idempotency_key_reused"
    assert await things(db) == 1


async def test_key_order_in_the_body_does_not_matter(db: Database) -> None:
    await call(db, ALICE, "k-3", {"a": 1, "b": 2})
    await call(db, ALICE, "k-3", {"b": 2, "a": 1})
    assert await things(db) == 1


async def test_keys_are_scoped_to_the_caller_and_the_route(db: Database) -> None:
    await call(db, ALICE, "same", {"a": 1})
    await call(db, BOB, "same", {"a": 1})
    await call(db, ALICE, "same", {"a": 1}, route="POST /api/other")
    assert await things(db) == 3


async def test_concurrent_duplicates_act_once_and_all_get_the_same_answer(db: Database) -> None:
    answers = await asyncio.gather(*(call(db, ALICE, "race", {"a": 1}) for _ in range(20)))
    assert all(answer == idempotency.Answer(201, {"made": True}) for answer in answers)
    assert await things(db) == 1


async def test_a_refusal_is_remembered_and_replayed(db: Database) -> None:
    first = await call(db, ALICE, "k-4", {"a": 1}, fail=True)
    assert first.status == 409 and first.body["error"]["code"] == "conflict"
    # the retry would now succeed if it ran; it gets the first answer instead
    again = await call(db, ALICE, "k-4", {"a": 1})
    assert again == first
    assert await things(db) == 0


async def test_a_key_is_kept_24_hours_then_forgotten(db: Database) -> None:
    request = idempotency.request_for(ALICE, route=ROUTE, key="old", body={})
    assert request is not None
    async with db.sessionmaker() as session:
        await idempotency.run(session, request, lambda: act(session, request))
    async with db.sessionmaker() as session:
        assert await idempotency.find(session, request, now=utcnow() + timedelta(hours=23)) is not None
        assert await idempotency.find(session, request, now=utcnow() + timedelta(hours=25)) is None
    async with db.sessionmaker() as session:
        async with transaction(session):
            await idempotency.claim(session, request, now=utcnow() + timedelta(hours=25))


@pytest.mark.parametrize("key", ["", " ", "x" * 201, "naïve", "tab\there"])
def test_a_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(idempotency.InvalidIdempotencyKey):
        idempotency.request_for(ALICE, route=ROUTE, key=key, body={})
