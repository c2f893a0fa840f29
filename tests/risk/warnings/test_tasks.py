"""Responsibility-list tasks: the lead adds tasks for parties, owners complete them once, and
overdue tasks are reminded, then reminded again only after the reminder interval."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.risk.warnings import service
from regio.risk.warnings.models import ResponsibilityTask, WarningFeed
from tests.factories import token_headers
from tests.risk.warnings.conftest import (
    HANGZHOU,
    HUZHOU,
    WENZHOU,
    journey,
    make_officer,
    officer_grant,
    reach,
    write_event,
)


async def test_the_lead_adds_a_task_for_a_supporting_city_which_completes_it_once(
    client: httpx.AsyncClient, db: Database, settings: Settings, places: None
) -> None:
    event = await write_event(db, origin=HANGZHOU)
    await journey(db, settings, event, reach(HUZHOU))
    lead = token_headers(settings, (await make_officer(db, officer_grant(HANGZHOU))).user)
    support = token_headers(settings, (await make_officer(db, officer_grant(HUZHOU))).user)
    stranger = token_headers(settings, (await make_officer(db, officer_grant(WENZHOU))).user)
    body = {
        "owner_key": f"prefecture:{HUZHOU}",
        "title": "开放太湖沿岸避险点",
        "title_en": "Open shelters along Lake Tai",
        "deadline": (utcnow() + timedelta(hours=3)).isoformat(),
    }
    created = await client.post(f"/api/risk/events/{event.id}/tasks", json=body, headers=lead)
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["owner_name"] == "湖州市" and task["role"] == "support" and task["status"] == "open"

    assert (
        await client.post(f"/api/risk/events/{event.id}/tasks", json=body, headers=support)
    ).status_code == 403
    assert (
        await client.post(f"/api/risk/events/{event.id}/tasks", json=body, headers=stranger)
    ).status_code == 403
    outsider = await client.post(
        f"/api/risk/events/{event.id}/tasks",
        json={**body, "owner_key": f"prefecture:{WENZHOU}"},
        headers=lead,
    )
    assert outsider.status_code == 422 and outsider.json()["error"]["code"] == "not_a_party"
    past = await client.post(
        f"/api/risk/events/{event.id}/tasks",
        json={**body, "deadline": "2020-01-01T00:00:00+08:00"},
        headers=lead,
    )
    assert past.status_code == 422 and past.json()["error"]["code"] == "deadline_out_of_range"

    assert (await client.post(f"/api/risk/tasks/{task['id']}/complete", headers=lead)).status_code == 403
    done = await client.post(f"/api/risk/tasks/{task['id']}/complete", headers=support)
    assert done.status_code == 200 and done.json()["status"] == "done"
    again = await client.post(f"/api/risk/tasks/{task['id']}/complete", headers=support)
    assert again.status_code == 409 and again.json()["error"]["code"] == "task_already_done"

    overview = (await client.get(f"/api/risk/events/{event.id}/responsibility", headers=stranger)).json()
    assert {p["role"] for p in overview["parties"]} == {"lead", "support", "coordinate"}
    assert any(entry["kind"] == "task_done" for entry in overview["timeline"])
    assert any(entry["kind"] == "sent" for entry in overview["timeline"])


async def test_overdue_tasks_are_reminded_once_per_interval(
    db: Database, settings: Settings, places: None
) -> None:
    start = utcnow()
    event = await write_event(db)
    await journey(db, settings, event, reach(HUZHOU), now=start)
    async with db.session() as session:
        first_deadline = min(
            t.deadline for t in (await session.execute(select(ResponsibilityTask))).scalars()
        )
    assert (
        await service.remind_overdue(
            db=db, settings=settings, bus=None, now=first_deadline - timedelta(seconds=1)
        )
        == 0
    )
    at = first_deadline + timedelta(seconds=1)
    reminded = await service.remind_overdue(db=db, settings=settings, bus=None, now=at)
    assert reminded >= 1
    assert (
        await service.remind_overdue(db=db, settings=settings, bus=None, now=at + timedelta(minutes=1)) == 0
    )
    async with db.session() as session:
        first_round = {
            t.id
            for t in (
                await session.execute(select(ResponsibilityTask).where(ResponsibilityTask.reminders == 1))
            ).scalars()
        }
    assert len(first_round) == reminded
    await service.remind_overdue(
        db=db, settings=settings, bus=None, now=at + timedelta(minutes=settings.warning_task_reminder_minutes)
    )
    async with db.session() as session:
        tasks = {t.id: t for t in (await session.execute(select(ResponsibilityTask))).scalars()}
        lines = list(
            (await session.execute(select(WarningFeed).where(WarningFeed.kind == "reminder"))).scalars()
        )
    # the ones reminded before are reminded a second time; the others only once they fall due
    assert all(tasks[task_id].reminders == 2 for task_id in first_round)
    assert all(t.reminders <= 1 for task_id, t in tasks.items() if task_id not in first_round)
    assert len(lines) == sum(t.reminders for t in tasks.values())
    assert all(
        line.payload["task"]["overdue"] and line.audience == tasks[line.payload["task"]["id"]].owner_key
        for line in lines
    )
