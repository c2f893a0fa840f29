"""The journey: a report warns exactly the affected jurisdictions and their bodies, once, and writes
the responsibility list; updates refresh, cancellations end, and the outbox backstops a crash."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from regio.config import Settings
from regio.core import outbox
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.events import InProcessBus
from regio.risk import flows
from regio.risk.warnings import handlers, service
from regio.risk.warnings.models import (
    EventJourney,
    ResponsibilityParty,
    ResponsibilityTask,
    RiskWarning,
    WarningFeed,
)
from tests.risk.warnings.conftest import (
    HANGZHOU,
    HUZHOU,
    JIAXING,
    count,
    journey,
    reach,
    write_event,
)

BODIES = {"body:yangtze-river-delta", "body:hangzhou-metropolitan"}


async def _warnings(db: Database) -> list[RiskWarning]:
    async with db.session() as session:
        return list((await session.execute(select(RiskWarning).order_by(RiskWarning.id))).scalars())


async def _snapshot(db: Database) -> dict[str, int]:
    return {
        "warnings": await count(db, RiskWarning),
        "parties": await count(db, ResponsibilityParty),
        "tasks": await count(db, ResponsibilityTask),
        "feed": await count(db, WarningFeed),
        "audit": await count(db, AuditEntry),
        "journeys": await count(db, EventJourney),
    }


async def test_a_report_in_hangzhou_warns_exactly_the_affected_cities_and_their_bodies_not_hangzhou(
    db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db, origin=HANGZHOU)
    affected = await journey(db, settings, event, reach(HANGZHOU, HUZHOU, JIAXING))

    assert {(a["adcode"], a["name"]) for a in affected} == {(HUZHOU, "湖州市"), (JIAXING, "嘉兴市")}
    warnings = await _warnings(db)
    assert {w.recipient_key for w in warnings} == {f"prefecture:{HUZHOU}", f"prefecture:{JIAXING}", *BODIES}
    assert all(w.origin_name == "杭州市" and w.root_id == event.id for w in warnings)
    roles = {w.recipient_key: w.role for w in warnings}
    assert roles[f"prefecture:{HUZHOU}"] == "support" and roles["body:yangtze-river-delta"] == "coordinate"
    # level 3 (yellow): acknowledgement due within the configured 240 minutes
    assert all(round((w.due_at - w.sent_at).total_seconds()) == 240 * 60 for w in warnings)
    async with db.session() as session:
        sent = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "risk.warning.sent"))
        ).scalars()
        assert {e.object_id for e in sent} == {str(w.id) for w in warnings}


async def test_the_responsibility_list_has_the_origin_lead_the_affected_support_and_the_bodies_coordinate(
    db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db, origin=HANGZHOU, level=3)
    await journey(db, settings, event, reach(HUZHOU))
    async with db.session() as session:
        parties = {
            p.party_key: p.role for p in (await session.execute(select(ResponsibilityParty))).scalars()
        }
        tasks = list((await session.execute(select(ResponsibilityTask))).scalars())
    assert parties == {
        f"prefecture:{HANGZHOU}": "lead",
        f"prefecture:{HUZHOU}": "support",
        "body:yangtze-river-delta": "coordinate",
        "body:hangzhou-metropolitan": "coordinate",
    }
    assert {t.owner_key for t in tasks} == set(parties)
    assert all(t.status == "open" and t.deadline > t.created_at for t in tasks)


async def test_running_the_journey_twice_writes_nothing_more(
    db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db)
    first = await journey(db, settings, event, reach(HUZHOU, JIAXING))
    before = await _snapshot(db)
    second = await journey(db, settings, event, reach(HUZHOU, JIAXING))
    assert second == first
    assert await _snapshot(db) == before


async def test_the_route_and_the_backstop_racing_write_one_set_of_warnings(
    db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db)
    results = await asyncio.gather(*(journey(db, settings, event, reach(HUZHOU, JIAXING)) for _ in range(4)))
    assert all(result == results[0] for result in results)
    assert await count(db, RiskWarning) == 4  # Huzhou, Jiaxing and two bodies, once each
    assert await count(db, EventJourney) == 1
    assert await count(db, AuditEntry, AuditEntry.action == "risk.warning.sent") == 4


async def test_the_outbox_runs_the_journey_after_a_crash_between_commit_and_journey(
    db: Database, settings: Settings, places: None, monkeypatch
) -> None:
    # The events service committed the report and its outbox message; the process died before
    # the route could call the journey.
    event = await write_event(db)
    async with db.session() as session, session.begin():
        outbox.enqueue(session, service.EVENT_CHANGED_TOPIC, {"event_id": event.id, "change": "reported"})
    assert await count(db, RiskWarning) == 0

    async def given_reach(session, holder, reported):  # type: ignore[no-untyped-def]
        return reach(HUZHOU)

    monkeypatch.setattr(flows, "_spillover", given_reach)
    monkeypatch.setattr(flows, "get_settings", lambda: settings)
    bus = InProcessBus()
    async with bus.subscribe(f"risk:jurisdiction:prefecture:{HUZHOU}") as huzhou:
        delivered = await outbox.deliver_due(
            db=db,
            settings=settings,
            transport=outbox.MemoryTransport(),
            handlers={service.EVENT_CHANGED_TOPIC: [handlers.journey_handler(db, bus)]},
        )
        assert delivered == 1
        line = await asyncio.wait_for(huzhou.get(), timeout=2)
    assert line["kind"] == "warning" and line["payload"]["recipient_code"] == HUZHOU
    assert {w.recipient_key for w in await _warnings(db)} == {f"prefecture:{HUZHOU}", *BODIES}


async def test_an_update_refreshes_the_warnings_and_a_red_level_brings_in_the_province(
    db: Database, settings: Settings, places: None
) -> None:
    first = await write_event(db, level=3)
    await journey(db, settings, first, reach(HUZHOU))
    second = await write_event(db, level=1, headline="洪水风险升级为红色", replaces=first)
    await journey(db, settings, second, reach(HUZHOU, JIAXING))

    warnings = {w.recipient_key: w for w in await _warnings(db)}
    assert warnings[f"prefecture:{HUZHOU}"].event_id == second.id
    assert warnings[f"prefecture:{HUZHOU}"].level == 1
    assert warnings[f"prefecture:{HUZHOU}"].headline == "洪水风险升级为红色"
    # red allows 15 minutes: the unacknowledged warning's deadline comes forward
    assert warnings[f"prefecture:{HUZHOU}"].due_at - warnings[f"prefecture:{HUZHOU}"].sent_at < timedelta(
        minutes=16
    )
    assert f"prefecture:{JIAXING}" in warnings  # newly reached
    async with db.session() as session:
        parties = {
            p.party_key: p.role for p in (await session.execute(select(ResponsibilityParty))).scalars()
        }
        kinds = [
            line.kind
            for line in (
                await session.execute(select(WarningFeed).where(WarningFeed.audience == "province:330000"))
            ).scalars()
        ]
    assert parties["province:330000"] == "take_over"
    assert kinds == ["take_over"]


async def test_a_cancelled_report_cancels_its_warnings_and_tells_the_dashboards(
    db: Database, settings: Settings, places: None
) -> None:
    first = await write_event(db)
    await journey(db, settings, first, reach(HUZHOU))
    cancel = await write_event(db, replaces=first, status="cancelled")
    bus = InProcessBus()
    async with (
        bus.subscribe(f"risk:jurisdiction:prefecture:{HUZHOU}") as huzhou,
        bus.subscribe(f"risk:jurisdiction:prefecture:{HANGZHOU}") as hangzhou,
    ):
        await journey(db, settings, cancel, [], bus=bus)
        told = await asyncio.wait_for(huzhou.get(), timeout=2)
        origin = await asyncio.wait_for(hangzhou.get(), timeout=2)
    assert told["kind"] == "cancelled" and origin["kind"] == "cancelled"
    assert {w.status for w in await _warnings(db)} == {"cancelled"}
    # a superseded version's journey (a late backstop) changes nothing back
    await journey(db, settings, first, reach(HUZHOU))
    assert {w.status for w in await _warnings(db)} == {"cancelled"}


async def test_a_journey_that_fails_after_the_report_committed_answers_empty_and_the_backstop_finishes_it(
    db: Database, settings: Settings, places: None, monkeypatch
) -> None:
    event = await write_event(db)
    async with db.session() as session, session.begin():
        outbox.enqueue(session, service.EVENT_CHANGED_TOPIC, {"event_id": event.id, "change": "reported"})
    calls = 0

    async def flaky(session, holder, reported):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("spill-over model unavailable")
        return reach(HUZHOU)

    monkeypatch.setattr(flows, "_spillover", flaky)
    monkeypatch.setattr(flows, "get_settings", lambda: settings)
    async with db.session() as session:
        answer = await flows.after_event_change(session=session, bus=InProcessBus(), event_id=event.id)
    assert answer == [] and await count(db, RiskWarning) == 0
    await outbox.deliver_due(
        db=db,
        settings=settings,
        transport=outbox.MemoryTransport(),
        handlers={service.EVENT_CHANGED_TOPIC: [handlers.journey_handler(db, None)]},
    )
    assert {w.recipient_key for w in await _warnings(db)} == {f"prefecture:{HUZHOU}", *BODIES}
