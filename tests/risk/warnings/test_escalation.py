"""Escalation with a controlled clock: an unacknowledged warning goes to its coordination body
when its SLA runs out, then to the level above; each step once, timestamped, audited, and the
slow acknowledgement is recorded for accountability."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from regio.config import Settings
from regio.core.audit import AuditEntry
from regio.core.db import Database, utcnow
from regio.core.events import InProcessBus
from regio.risk.warnings import service
from regio.risk.warnings.models import AccountabilityRecord, RiskWarning, WarningEscalation, WarningFeed
from tests.risk.warnings.conftest import (
    HANGZHOU,
    HUZHOU,
    JIAXING,
    count,
    journey,
    make_officer,
    officer_grant,
    reach,
    write_event,
)

SLA = timedelta(minutes=240)  # level 3 under the default "15,60,240,1440"


async def _warning(db: Database, adcode: str) -> RiskWarning:
    async with db.session() as session:
        return (
            await session.execute(
                select(RiskWarning).where(RiskWarning.recipient_key == f"prefecture:{adcode}")
            )
        ).scalar_one()


async def test_an_unacknowledged_warning_goes_to_the_body_then_to_the_province_each_step_once(
    db: Database, settings: Settings, places: None
) -> None:
    start = utcnow()
    event = await write_event(db, origin=HANGZHOU, level=3)
    await journey(db, settings, event, reach(HUZHOU, JIAXING), now=start)
    jiaxing = await make_officer(db, officer_grant(JIAXING))
    async with db.session() as session:
        await service.acknowledge(
            session=session,
            bus=None,
            principal=jiaxing.principal,
            warning_id=(await _warning(db, JIAXING)).id,
            now=start + timedelta(minutes=10),
        )

    # not yet due: nothing moves
    assert (
        await service.escalate_due(db=db, settings=settings, bus=None, now=start + SLA - timedelta(seconds=1))
        == 0
    )

    bus = InProcessBus()
    async with bus.subscribe("risk:body:hangzhou-metropolitan") as body:
        taken = await service.escalate_due(
            db=db, settings=settings, bus=bus, now=start + SLA + timedelta(seconds=1)
        )
        told = body.get_nowait()
    assert taken == 1  # Huzhou only: Jiaxing acknowledged in time
    assert told is not None and told["kind"] == "escalated" and told["payload"]["step"] == 1
    huzhou = await _warning(db, HUZHOU)
    assert huzhou.escalation_step == 1 and huzhou.escalated_at == start + SLA + timedelta(seconds=1)
    async with db.session() as session:
        first = (await session.execute(select(WarningEscalation))).scalar_one()
        record = (await session.execute(select(AccountabilityRecord))).scalar_one()
    assert set(first.to_keys) == {"body:yangtze-river-delta", "body:hangzhou-metropolitan"}
    assert record.kind == "slow_acknowledgement" and record.party_key == f"prefecture:{HUZHOU}"

    # the same moment again: each step happens once
    assert (
        await service.escalate_due(db=db, settings=settings, bus=None, now=start + SLA + timedelta(seconds=2))
        == 0
    )

    # another SLA later: the level above (Zhejiang province) is told
    later = start + 2 * SLA + timedelta(seconds=5)
    assert await service.escalate_due(db=db, settings=settings, bus=None, now=later) == 1
    async with db.session() as session:
        steps = [
            (e.step, e.to_keys)
            for e in (
                await session.execute(select(WarningEscalation).order_by(WarningEscalation.step))
            ).scalars()
        ]
        province = [
            line.kind
            for line in (
                await session.execute(select(WarningFeed).where(WarningFeed.audience == "province:330000"))
            ).scalars()
        ]
        audited = [
            e.details["step"]
            for e in (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.action == "risk.warning.escalated")
                    .order_by(AuditEntry.id)
                )
            ).scalars()
        ]
    assert steps[1] == (2, ["province:330000"])
    assert province == ["escalated"] and audited == [1, 2]
    assert await service.escalate_due(db=db, settings=settings, bus=None, now=later + 10 * SLA) == 0
    assert await count(db, AccountabilityRecord) == 1


async def test_a_late_acknowledgement_is_shown_to_the_bodies_it_was_escalated_to(
    db: Database, settings: Settings, places: None
) -> None:
    start = utcnow()
    event = await write_event(db, level=1)  # red: 15 minutes
    await journey(db, settings, event, reach(HUZHOU), now=start)
    await service.escalate_due(db=db, settings=settings, bus=None, now=start + timedelta(minutes=16))
    huzhou = await make_officer(db, officer_grant(HUZHOU))
    bus = InProcessBus()
    async with bus.subscribe("risk:body:yangtze-river-delta") as body:
        async with db.session() as session:
            await service.acknowledge(
                session=session,
                bus=bus,
                principal=huzhou.principal,
                warning_id=(await _warning(db, HUZHOU)).id,
                now=start + timedelta(minutes=20),
            )
        told = body.get_nowait()
    assert told is not None and told["kind"] == "acknowledged"
    # acknowledged: no second step however long one waits
    assert await service.escalate_due(db=db, settings=settings, bus=None, now=start + timedelta(days=3)) == 0


async def test_the_sla_follows_the_configured_minutes_per_level(
    db: Database, settings: Settings, places: None
) -> None:
    custom = settings.model_copy(update={"warning_ack_sla_minutes": "5,10,20,30"})
    start = utcnow()
    event = await write_event(db, level=2)
    await journey(db, custom, event, reach(HUZHOU), now=start)
    warning = await _warning(db, HUZHOU)
    assert warning.due_at - warning.sent_at == timedelta(minutes=10)
    assert (
        await service.escalate_due(db=db, settings=custom, bus=None, now=start + timedelta(minutes=11)) == 1
    )
