"""The audit trail: free appends, in-order sealing into a hash chain, verification that catches tampering."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys

import pytest
from sqlalchemy import delete, event, insert, select, update

from regio.config import Settings
from regio.core import audit
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.audit import AuditCheckpoint, AuditEntry
from regio.core.context import RequestContext, current_request
from regio.core.db import Database, utcnow

DOCTOR = Principal(
    user_id=7,
    username="dr.wang",
    grants=frozenset({RoleGrant(Role.doctor, ScopeKind.hospital, "12")}),
)


async def record_one(db: Database, number: int, principal: Principal = DOCTOR) -> None:
    async with db.sessionmaker() as session, session.begin():
        await audit.record(
            session, principal, "patient.read", object_type="patient", object_id=number, details={"n": number}
        )


async def record_many(db: Database, count: int) -> None:
    for number in range(1, count + 1):
        await record_one(db, number)


async def verify(db: Database, settings: Settings) -> audit.VerifyResult:
    async with db.sessionmaker() as session:
        return await audit.verify(session=session, settings=settings)


async def tamper(db: Database, *statements: object) -> None:
    async with db.sessionmaker() as session, session.begin():
        for statement in statements:
            await session.execute(statement)  # type: ignore[call-overload]


async def entries(db: Database) -> list[AuditEntry]:
    async with db.sessionmaker() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


@pytest.fixture
async def sealed_ten(db: Database, settings: Settings) -> list[AuditEntry]:
    """Ten entries sealed in batches of four: checkpoints at seq 4, 8 and 10."""
    await record_many(db, 10)
    assert await audit.seal_all(db=db, settings=settings, batch_size=4) == 10
    result = await verify(db, settings)
    assert result.ok and result.sealed == 10 and result.head_seq == 10
    return sorted(await entries(db), key=lambda entry: entry.seq or 0)


# --- appending --------------------------------------------------------------------------------


async def test_an_entry_records_who_what_when_and_from_where(db: Database) -> None:
    token = current_request.set(RequestContext(request_id="req-1", ip="10.1.2.3", user_agent="Mozilla/5.0"))
    try:
        async with db.sessionmaker() as session, session.begin():
            await audit.record(
                session, DOCTOR, "patient.read", object_type="patient", object_id=42, details={"why": "visit"}
            )
    finally:
        current_request.reset(token)
    [entry] = await entries(db)
    assert (entry.actor_user_id, entry.actor_username, entry.actor_client_id) == (7, "dr.wang", None)
    assert entry.roles == ["doctor@hospital:12"]
    assert (entry.action, entry.object_type, entry.object_id) == ("patient.read", "patient", "42")
    assert entry.details == {"why": "visit"}
    assert (entry.ip, entry.user_agent, entry.request_id) == ("10.1.2.3", "Mozilla/5.0", "req-1")
    assert entry.occurred_at.tzinfo is not None
    assert entry.seq is None and entry.entry_hash is None  # sealed later, by the sealer


async def test_an_id_number_or_phone_that_slips_into_details_is_stored_masked(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin():
        await audit.record(
            session,
            DOCTOR,
            "patient.update",
            object_type="patient",
            object_id=1,
            details={"note": "id 330106199001011234 tel 13812345678", "nested": [{"phone": "13987654321"}]},
        )
    [entry] = await entries(db)
    assert entry.details == {
        "note": "id 330106********1234 tel 138****5678",
        "nested": [{"phone": "139****4321"}],
    }


async def test_a_rolled_back_change_leaves_no_audit_entry(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.sessionmaker() as session, session.begin():
            await audit.record(session, DOCTOR, "patient.update", object_type="patient", object_id=1)
            raise RuntimeError("the change failed")
    assert await entries(db) == []


async def test_record_only_inserts_and_never_reads_the_chain_head(db: Database) -> None:
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.strip().upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        await record_one(db, 1)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    touching = [statement for statement in statements if "AUDIT" in statement]
    assert len(touching) == 1 and touching[0].startswith("INSERT INTO AUDIT_ENTRIES")


async def test_appending_does_not_wait_for_a_busy_sealer(db: Database, settings: Settings) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer for everything; the point is PostgreSQL's many writers")
    async with db.sessionmaker() as sealer, sealer.begin():
        await audit._take_sealer_lock(sealer)  # a sealer is mid-batch, holding the chain
        await asyncio.wait_for(record_one(db, 1), timeout=5)
    assert len(await entries(db)) == 1


# --- sealing ----------------------------------------------------------------------------------


async def test_sealing_numbers_entries_in_order_and_links_each_to_the_one_before(
    db: Database, settings: Settings
) -> None:
    await record_many(db, 5)
    assert await audit.seal(db=db, settings=settings) == 5
    sealed = await entries(db)
    assert [entry.seq for entry in sealed] == [1, 2, 3, 4, 5]
    assert sealed[0].prev_hash == audit.GENESIS_HASH
    for before, after in itertools.pairwise(sealed):
        assert after.prev_hash == before.entry_hash
    assert await audit.seal(db=db, settings=settings) == 0  # nothing left: no empty checkpoint either
    async with db.sessionmaker() as session:
        checkpoints = (await session.execute(select(AuditCheckpoint))).scalars().all()
    assert [(c.seq, c.entry_hash) for c in checkpoints] == [(5, sealed[-1].entry_hash)]


async def test_two_hundred_concurrent_appends_with_two_racing_sealers_end_up_one_contiguous_chain(
    db: Database, settings: Settings
) -> None:
    writers_done = asyncio.Event()
    sealed_by: list[int] = []

    async def sealer() -> None:
        while not writers_done.is_set():
            sealed_by.append(await audit.seal(db=db, settings=settings, batch_size=7))
            await asyncio.sleep(0)

    async def writers() -> None:
        await asyncio.gather(*(record_one(db, number) for number in range(200)))
        writers_done.set()

    await asyncio.gather(writers(), sealer(), sealer())
    sealed_by.append(await audit.seal_all(db=db, settings=settings, batch_size=7))
    assert sum(sealed_by) == 200
    seqs = sorted(entry.seq for entry in await entries(db) if entry.seq is not None)
    assert seqs == list(range(1, 201))
    result = await verify(db, settings)
    assert result.ok, result.problem
    assert (result.sealed, result.unsealed, result.head_seq) == (200, 0, 200)


async def test_the_sealer_refuses_to_extend_a_chain_whose_checkpoint_is_forged(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    await tamper(db, update(AuditCheckpoint).where(AuditCheckpoint.seq == 10).values(entry_hash="f" * 64))
    await record_one(db, 11)
    with pytest.raises(audit.SealRefused):
        await audit.seal(db=db, settings=settings)
    assert [entry.seq for entry in await entries(db)][-1] is None  # left unsealed, not laundered


async def test_a_checkpoint_signed_under_another_secret_does_not_verify(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    other = settings.model_copy(update={"secret_key": "another-secret-" + "q" * 32})
    result = await verify(db, other)
    assert not result.ok and result.problem is not None
    assert result.problem.reason == "checkpoint_forged"


# --- verifying: each kind of tampering is caught and named ------------------------------------


async def test_an_empty_trail_verifies(db: Database, settings: Settings) -> None:
    result = await verify(db, settings)
    assert result.ok and result.sealed == 0


async def test_unsealed_entries_are_counted_but_not_judged(db: Database, settings: Settings) -> None:
    await record_many(db, 3)
    result = await verify(db, settings)
    assert result.ok and (result.sealed, result.unsealed) == (0, 3)


async def test_an_edited_entry_is_named(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    target = sealed_ten[4]
    await tamper(db, update(AuditEntry).where(AuditEntry.id == target.id).values(action="patient.nothing"))
    problem = (await verify(db, settings)).problem
    assert problem is not None
    assert (problem.reason, problem.seq, problem.entry_id) == ("edited", 5, target.id)


async def test_edited_details_are_caught_too(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    target = sealed_ten[1]
    await tamper(db, update(AuditEntry).where(AuditEntry.id == target.id).values(details={"n": 999}))
    problem = (await verify(db, settings)).problem
    assert problem is not None and (problem.reason, problem.seq) == ("edited", 2)


async def test_a_removed_entry_is_named_by_its_position(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    await tamper(db, delete(AuditEntry).where(AuditEntry.seq == 3))
    result = await verify(db, settings)
    assert result.problem is not None
    assert (result.problem.reason, result.problem.seq) == ("missing", 3)
    assert result.sealed == 2  # the two before it still check out


async def test_swapped_positions_are_caught_as_reordering(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    third, fourth = sealed_ten[2], sealed_ten[3]
    await tamper(
        db,
        update(AuditEntry).where(AuditEntry.id == third.id).values(seq=-1),
        update(AuditEntry).where(AuditEntry.id == fourth.id).values(seq=3),
        update(AuditEntry).where(AuditEntry.id == third.id).values(seq=4),
    )
    problem = (await verify(db, settings)).problem
    assert problem is not None
    assert (problem.reason, problem.seq, problem.entry_id) == ("reordered", 3, fourth.id)


async def test_entries_cut_off_the_end_are_caught_by_the_checkpoint(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    await tamper(db, delete(AuditEntry).where(AuditEntry.seq > 8))
    result = await verify(db, settings)
    assert result.problem is not None
    assert (result.problem.reason, result.problem.seq) == ("truncated", 9)
    assert result.sealed == 8


async def test_truncation_stays_visible_after_new_entries_are_sealed(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    await tamper(db, delete(AuditEntry).where(AuditEntry.seq > 8))
    await record_many(db, 2)
    assert await audit.seal_all(db=db, settings=settings) == 2
    problem = (await verify(db, settings)).problem
    assert problem is not None and (problem.reason, problem.seq) == ("missing", 9)


async def test_a_checkpoint_moved_back_to_hide_truncation_is_caught_as_forged(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    ninth_hash = sealed_ten[8].entry_hash
    await tamper(
        db,
        delete(AuditEntry).where(AuditEntry.seq == 10),
        delete(AuditCheckpoint).where(AuditCheckpoint.seq == 10),
        # The attacker writes a head for seq 9 but cannot sign it.
        insert(AuditCheckpoint).values(seq=9, entry_hash=ninth_hash, sealed_at=utcnow(), signature="0" * 64),
    )
    problem = (await verify(db, settings)).problem
    assert problem is not None and (problem.reason, problem.seq) == ("checkpoint_forged", 9)


async def test_an_edited_checkpoint_is_caught_as_forged(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    await tamper(db, update(AuditCheckpoint).where(AuditCheckpoint.seq == 8).values(entry_hash="a" * 64))
    problem = (await verify(db, settings)).problem
    assert problem is not None
    assert (problem.reason, problem.seq, problem.entry_id) == ("checkpoint_forged", 8, sealed_ten[7].id)


async def test_removed_checkpoints_leave_an_unsigned_tail(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    await tamper(db, delete(AuditCheckpoint).where(AuditCheckpoint.seq == 10))
    problem = (await verify(db, settings)).problem
    assert problem is not None
    assert (problem.reason, problem.seq, problem.entry_id) == ("unsigned_tail", 9, sealed_ten[8].id)


async def test_an_edit_with_the_chain_rehashed_after_it_is_caught_by_the_next_checkpoint(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    # Anyone can recompute unkeyed SHA-256 hashes; only the signed checkpoints stop that.
    async with db.sessionmaker() as session, session.begin():
        chain = list((await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())
        chain[2].action = "patient.nothing"
        prev = chain[1].entry_hash or ""
        for entry in chain[2:]:
            entry.prev_hash = prev
            entry.entry_hash = prev = audit.entry_hash(entry, seq=entry.seq or 0, prev_hash=prev)
    problem = (await verify(db, settings)).problem
    assert problem is not None
    assert (problem.reason, problem.seq, problem.entry_id) == ("rewritten", 4, sealed_ten[3].id)


async def test_verify_walks_a_trail_longer_than_one_page(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "_VERIFY_PAGE", 3)
    await record_many(db, 10)
    await audit.seal_all(db=db, settings=settings, batch_size=4)
    assert (await verify(db, settings)).sealed == 10
    await tamper(db, update(AuditEntry).where(AuditEntry.seq == 8).values(object_id="999"))
    problem = (await verify(db, settings)).problem
    assert problem is not None and (problem.reason, problem.seq) == ("edited", 8)


# --- the command ------------------------------------------------------------------------------


async def run_cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = dict(os.environ)
    env.update(
        REGIO_DATABASE_URL=settings.database_url,
        REGIO_SECRET_KEY=settings.secret_key,
        REGIO_DATA_KEY=settings.data_key,
        REGIO_WEBHOOK_SECRET=settings.webhook_secret,
        REGIO_ENVIRONMENT="test",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "regio.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_regio_audit_verify_exits_0_and_counts_an_intact_trail(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    code, out, err = await run_cli(settings, "audit", "verify")
    assert code == 0, err
    assert "intact" in out and "10 sealed entries" in out


async def test_regio_audit_verify_exits_non_zero_naming_the_first_bad_entry(
    db: Database, settings: Settings, sealed_ten: list[AuditEntry]
) -> None:
    target = sealed_ten[5]
    await tamper(db, update(AuditEntry).where(AuditEntry.id == target.id).values(actor_username="nobody"))
    code, _out, err = await run_cli(settings, "audit", "verify")
    assert code == 1
    assert f"seq 6 (id {target.id})" in err and "edited" in err
