"""Queries of warnings; never commits. Inserts that race (the journey run twice) skip conflicts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.risk.events.models import RiskEvent
from regio.risk.geography.models import Jurisdiction
from regio.risk.warnings.models import (
    AccountabilityRecord,
    EventJourney,
    ResponsibilityParty,
    ResponsibilityTask,
    RiskWarning,
    WarningEscalation,
    WarningFeed,
    WebhookSubscription,
)


def _insert(session: AsyncSession, table: Any) -> Any:
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


# --- events and places -----------------------------------------------------------------------------


async def event(session: AsyncSession, event_id: int) -> RiskEvent | None:
    return await session.get(RiskEvent, event_id)


async def current_version(session: AsyncSession, root_id: int) -> RiskEvent | None:
    found = await session.execute(
        select(RiskEvent).where(RiskEvent.root_id == root_id).order_by(RiskEvent.version.desc()).limit(1)
    )
    return found.scalar_one_or_none()


async def jurisdiction_name(session: AsyncSession, level: str, adcode: str) -> str | None:
    found = await session.execute(
        select(Jurisdiction.name).where(Jurisdiction.level == level, Jurisdiction.adcode == adcode)
    )
    return found.scalar_one_or_none()


# --- the journey -----------------------------------------------------------------------------------


async def claim_journey(
    session: AsyncSession,
    *,
    event_id: int,
    change: str,
    root_id: int,
    affected: list[dict[str, Any]],
    now: datetime,
) -> bool:
    """Marks the journey of one version and change as done; False if it was done (or is being done)."""
    statement = (
        _insert(session, EventJourney)
        .values(event_id=event_id, change=change, root_id=root_id, affected=affected, done_at=now)
        .on_conflict_do_nothing(index_elements=["event_id", "change"])
        .returning(EventJourney.event_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def journey(session: AsyncSession, *, event_id: int, change: str) -> EventJourney | None:
    return await session.get(EventJourney, (event_id, change))


async def insert_warnings(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Inserts the warnings not yet sent (one per event root and recipient); returns the new ids."""
    if not rows:
        return []
    statement = (
        _insert(session, RiskWarning)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["root_id", "recipient_key"])
        .returning(RiskWarning.id)
    )
    return list((await session.execute(statement)).scalars())


async def refresh_warnings(
    session: AsyncSession, *, root_id: int, event_id: int, due_at: datetime, values: dict[str, Any]
) -> list[int]:
    """Points a root's active warnings at a newer version; each is refreshed once per version.

    A higher level brings an unacknowledged warning's deadline forward, never back.
    """
    sooner = case(
        (
            and_(
                RiskWarning.acknowledged_at.is_(None),
                RiskWarning.escalation_step == 0,
                RiskWarning.due_at > due_at,
            ),
            due_at,
        ),
        else_=RiskWarning.due_at,
    )
    result = await session.execute(
        update(RiskWarning)
        .where(
            RiskWarning.root_id == root_id, RiskWarning.event_id < event_id, RiskWarning.status == "active"
        )
        .values(event_id=event_id, due_at=sooner, **values)
        .returning(RiskWarning.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


async def end_warnings(session: AsyncSession, *, root_id: int, status: str, now: datetime) -> list[int]:
    result = await session.execute(
        update(RiskWarning)
        .where(RiskWarning.root_id == root_id, RiskWarning.status == "active")
        .values(status=status, closed_at=now, updated_at=now)
        .returning(RiskWarning.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


async def warnings_by_ids(session: AsyncSession, ids: Iterable[int]) -> Sequence[RiskWarning]:
    wanted = list(ids)
    if not wanted:
        return []
    found = await session.execute(
        select(RiskWarning).where(RiskWarning.id.in_(wanted)).order_by(RiskWarning.id)
    )
    return found.scalars().all()


async def warnings_of_root(session: AsyncSession, root_id: int) -> Sequence[RiskWarning]:
    found = await session.execute(
        select(RiskWarning).where(RiskWarning.root_id == root_id).order_by(RiskWarning.id)
    )
    return found.scalars().all()


async def warnings_for(
    session: AsyncSession, keys: Iterable[str], *, limit: int = 200
) -> Sequence[RiskWarning]:
    """Warnings addressed to these audiences or sent for events they originated, newest first."""
    wanted = sorted(keys)
    if not wanted:
        return []
    origins = [key.split(":", 1)[1] for key in wanted if not key.startswith("body:")]
    found = await session.execute(
        select(RiskWarning)
        .where(or_(RiskWarning.recipient_key.in_(wanted), RiskWarning.origin_adcode.in_(origins)))
        .order_by(RiskWarning.id.desc())
        .limit(limit)
    )
    return found.scalars().all()


async def get_warning(session: AsyncSession, warning_id: int) -> RiskWarning | None:
    return await session.get(RiskWarning, warning_id)


async def acknowledge(
    session: AsyncSession, *, warning_id: int, user_id: int | None, name: str, now: datetime
) -> bool:
    """The one acknowledgement: only the UPDATE that finds it unacknowledged and active wins."""
    result = await session.execute(
        update(RiskWarning)
        .where(
            RiskWarning.id == warning_id,
            RiskWarning.acknowledged_at.is_(None),
            RiskWarning.status == "active",
        )
        .values(
            acknowledged_at=now, acknowledged_by_user_id=user_id, acknowledged_by_name=name, updated_at=now
        )
        .returning(RiskWarning.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def mark_seen(session: AsyncSession, *, warning_ids: Sequence[int], now: datetime) -> list[int]:
    result = await session.execute(
        update(RiskWarning)
        .where(RiskWarning.id.in_(list(warning_ids)), RiskWarning.first_seen_at.is_(None))
        .values(first_seen_at=now)
        .returning(RiskWarning.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


# --- escalation ------------------------------------------------------------------------------------


async def overdue_ids(session: AsyncSession, *, step: int, now: datetime, limit: int = 500) -> list[int]:
    found = await session.execute(
        select(RiskWarning.id)
        .where(
            RiskWarning.status == "active",
            RiskWarning.acknowledged_at.is_(None),
            RiskWarning.recipient_kind == "jurisdiction",
            RiskWarning.escalation_step == step,
            RiskWarning.due_at <= now,
        )
        .order_by(RiskWarning.due_at, RiskWarning.id)
        .limit(limit)
    )
    return list(found.scalars())


async def take_escalation(
    session: AsyncSession, *, warning_id: int, step: int, now: datetime, next_due: datetime
) -> bool:
    """Moves a warning one step up, once: the UPDATE re-checks that it is still unacknowledged."""
    result = await session.execute(
        update(RiskWarning)
        .where(
            RiskWarning.id == warning_id,
            RiskWarning.escalation_step == step,
            RiskWarning.acknowledged_at.is_(None),
            RiskWarning.status == "active",
            RiskWarning.due_at <= now,
        )
        .values(escalation_step=step + 1, escalated_at=now, due_at=next_due, updated_at=now)
        .returning(RiskWarning.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


def add_escalation(
    session: AsyncSession, *, warning_id: int, step: int, to_keys: list[str], now: datetime
) -> None:
    session.add(WarningEscalation(warning_id=warning_id, step=step, to_keys=to_keys, escalated_at=now))


async def escalations_of(session: AsyncSession, warning_ids: Sequence[int]) -> Sequence[WarningEscalation]:
    if not warning_ids:
        return []
    found = await session.execute(
        select(WarningEscalation)
        .where(WarningEscalation.warning_id.in_(list(warning_ids)))
        .order_by(WarningEscalation.escalated_at, WarningEscalation.id)
    )
    return found.scalars().all()


async def record_accountability(session: AsyncSession, row: dict[str, Any]) -> bool:
    statement = (
        _insert(session, AccountabilityRecord)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["kind", "warning_id"])
        .returning(AccountabilityRecord.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def accountability_of(session: AsyncSession, root_id: int) -> Sequence[AccountabilityRecord]:
    found = await session.execute(
        select(AccountabilityRecord)
        .where(AccountabilityRecord.root_id == root_id)
        .order_by(AccountabilityRecord.id)
    )
    return found.scalars().all()


# --- the feed --------------------------------------------------------------------------------------


async def feed_after(
    session: AsyncSession, *, audiences: Iterable[str], after: int, since: datetime, limit: int = 500
) -> Sequence[WarningFeed]:
    """Feed lines after a sequence, plus the recent ones: a line whose transaction committed late
    may carry a smaller id than one already seen, so the last moments are replayed too."""
    wanted = sorted(audiences)
    if not wanted:
        return []
    found = await session.execute(
        select(WarningFeed)
        .where(WarningFeed.audience.in_(wanted), or_(WarningFeed.id > after, WarningFeed.created_at >= since))
        .order_by(WarningFeed.id)
        .limit(limit)
    )
    return found.scalars().all()


async def latest_feed(
    session: AsyncSession, *, audiences: Iterable[str], limit: int
) -> Sequence[WarningFeed]:
    wanted = sorted(audiences)
    if not wanted:
        return []
    found = await session.execute(
        select(WarningFeed)
        .where(WarningFeed.audience.in_(wanted))
        .order_by(WarningFeed.id.desc())
        .limit(limit)
    )
    return list(reversed(found.scalars().all()))


async def feed_of_root(session: AsyncSession, root_id: int) -> Sequence[WarningFeed]:
    found = await session.execute(
        select(WarningFeed).where(WarningFeed.root_id == root_id).order_by(WarningFeed.id)
    )
    return found.scalars().all()


# --- responsibility list ---------------------------------------------------------------------------


async def insert_parties(session: AsyncSession, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    statement = (
        _insert(session, ResponsibilityParty)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["root_id", "party_key"])
        .returning(ResponsibilityParty.party_key)
    )
    return list((await session.execute(statement)).scalars())


async def parties(session: AsyncSession, root_id: int) -> Sequence[ResponsibilityParty]:
    found = await session.execute(
        select(ResponsibilityParty)
        .where(ResponsibilityParty.root_id == root_id)
        .order_by(ResponsibilityParty.id)
    )
    return found.scalars().all()


async def insert_default_tasks(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    statement = (
        _insert(session, ResponsibilityTask)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["root_id", "owner_key", "default_key"])
        .returning(ResponsibilityTask.id)
    )
    return list((await session.execute(statement)).scalars())


async def tasks(session: AsyncSession, root_id: int) -> Sequence[ResponsibilityTask]:
    found = await session.execute(
        select(ResponsibilityTask)
        .where(ResponsibilityTask.root_id == root_id)
        .order_by(ResponsibilityTask.deadline, ResponsibilityTask.id)
    )
    return found.scalars().all()


async def get_task(session: AsyncSession, task_id: int) -> ResponsibilityTask | None:
    return await session.get(ResponsibilityTask, task_id)


async def complete_task(session: AsyncSession, *, task_id: int, user_id: int | None, now: datetime) -> bool:
    result = await session.execute(
        update(ResponsibilityTask)
        .where(ResponsibilityTask.id == task_id, ResponsibilityTask.status == "open")
        .values(status="done", done_at=now, done_by_user_id=user_id, updated_at=now)
        .returning(ResponsibilityTask.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def overdue_task_ids(
    session: AsyncSession, *, now: datetime, remind_before: datetime, limit: int = 500
) -> list[int]:
    found = await session.execute(
        select(ResponsibilityTask.id)
        .where(
            ResponsibilityTask.status == "open",
            ResponsibilityTask.deadline <= now,
            or_(ResponsibilityTask.reminded_at.is_(None), ResponsibilityTask.reminded_at <= remind_before),
        )
        .order_by(ResponsibilityTask.deadline, ResponsibilityTask.id)
        .limit(limit)
    )
    return list(found.scalars())


async def take_reminder(
    session: AsyncSession, *, task_id: int, now: datetime, remind_before: datetime
) -> bool:
    result = await session.execute(
        update(ResponsibilityTask)
        .where(
            ResponsibilityTask.id == task_id,
            ResponsibilityTask.status == "open",
            or_(ResponsibilityTask.reminded_at.is_(None), ResponsibilityTask.reminded_at <= remind_before),
        )
        .values(reminded_at=now, reminders=ResponsibilityTask.reminders + 1)
        .returning(ResponsibilityTask.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


# --- webhooks --------------------------------------------------------------------------------------


async def subscriptions_for(session: AsyncSession, keys: Iterable[str]) -> Sequence[WebhookSubscription]:
    wanted = sorted(set(keys))
    if not wanted:
        return []
    found = await session.execute(
        select(WebhookSubscription)
        .where(and_(WebhookSubscription.subscriber_key.in_(wanted), WebhookSubscription.active.is_(True)))
        .order_by(WebhookSubscription.id)
    )
    return found.scalars().all()


async def add_subscription(
    session: AsyncSession, *, key: str, url: str, user_id: int | None, now: datetime
) -> int | None:
    statement = (
        _insert(session, WebhookSubscription)
        .values(
            subscriber_key=key,
            url=url,
            active=True,
            created_by_user_id=user_id,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscriber_key", "url"])
        .returning(WebhookSubscription.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def subscription_by_url(session: AsyncSession, *, key: str, url: str) -> WebhookSubscription | None:
    found = await session.execute(
        select(WebhookSubscription).where(
            WebhookSubscription.subscriber_key == key, WebhookSubscription.url == url
        )
    )
    return found.scalar_one_or_none()
