"""Warnings services: the only writers. The journey (warn the affected and their bodies, write the
responsibility list), acknowledgements, escalation of overdue warnings, tasks and reminders,
webhook subscriptions and deliveries, and the readers behind dashboards and event pages.

Every change a dashboard shows is stored as a feed line in the same transaction as the change,
then published live after commit: the live path is only a shortcut, a dashboard that missed it
re-reads the feed from its last sequence.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from regio.config import Settings
from regio.core import audit, outbox, webhooks
from regio.core.access import SYSTEM, Principal, require
from regio.core.db import Database, transaction, utcnow
from regio.core.events import EventBus
from regio.risk.events.models import RiskEvent
from regio.risk.geography import service as geography_service
from regio.risk.warnings import errors, policies, repository
from regio.risk.warnings.enums import FeedKind, PartyRole, RecipientKind, WarningStatus
from regio.risk.warnings.models import (
    ResponsibilityTask,
    RiskWarning,
    WarningFeed,
    WebhookDelivery,
    WebhookSubscription,
)
from regio.risk.warnings.policies import Action, Target
from regio.risk.warnings.schemas import (
    AffectedOut,
    Feed,
    FeedItem,
    PartyOut,
    Responsibility,
    TaskIn,
    TaskOut,
    TimelineEntry,
    WarningList,
    WarningOut,
    WebhookIn,
    WebhookOut,
)

log = logging.getLogger("regio.risk.warnings")

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEBHOOK_TOPIC = "risk.warning.webhook"
EVENT_CHANGED_TOPIC = "risk.event.changed"
# A feed line whose transaction commits late may carry an id below one a dashboard already saw:
# resuming replays this much of the recent past too, and the dashboard drops what it has.
REPLAY_GRACE = timedelta(seconds=30)
MAX_TASK_AHEAD = timedelta(days=90)
STATUS_ZH = {"cancelled": "撤销", "closed": "结束", "active": "生效"}


@dataclass(frozen=True, slots=True)
class Reach:
    """A jurisdiction the event reaches, as a spill-over model said."""

    adcode: str
    name: str
    level: str
    reason: str
    eta_hours: float | None = None
    confidence: float | None = None
    model: str = ""

    def as_dict(self) -> dict[str, Any]:
        return AffectedOut(
            adcode=self.adcode,
            name=self.name,
            level=self.level,
            reason=self.reason,
            eta_hours=self.eta_hours,
            confidence=self.confidence,
        ).model_dump()


Spill = Callable[[AsyncSession, RiskEvent], Awaitable[list[Reach]]]


def local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _view(warning: RiskWarning) -> dict[str, Any]:
    return WarningOut.model_validate(warning).model_dump(mode="json")


def _item(row: WarningFeed) -> FeedItem:
    return FeedItem(
        id=row.id,
        audience=row.audience,
        kind=row.kind,
        root_id=row.root_id,
        warning_id=row.warning_id,
        payload=row.payload,
        created_at=row.created_at,
    )


class _Changes:
    """Feed lines and webhooks of one transaction; the lines are published after commit."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session = session
        self.now = now
        self.lines: list[WarningFeed] = []
        self._subscriptions: dict[str, list[WebhookSubscription]] | None = None

    async def load_subscriptions(self, keys: Iterable[str]) -> None:
        """Reads the subscriptions of every audience this change may notify, in one query."""
        found: dict[str, list[WebhookSubscription]] = {}
        for subscription in await repository.subscriptions_for(self.session, keys):
            found.setdefault(subscription.subscriber_key, []).append(subscription)
        self._subscriptions = found

    def feed(
        self,
        audiences: Iterable[str],
        kind: FeedKind,
        *,
        root_id: int,
        warning_id: int | None,
        payload: dict[str, Any],
    ) -> None:
        for audience in dict.fromkeys(audiences):  # once per audience, in order
            line = WarningFeed(
                audience=audience,
                kind=kind.value,
                root_id=root_id,
                warning_id=warning_id,
                payload=payload,
                created_at=self.now,
            )
            self.session.add(line)
            self.lines.append(line)

    async def webhooks(
        self, keys: Iterable[str], kind: FeedKind, *, warning_id: int | None, payload: dict[str, Any]
    ) -> None:
        """A signed webhook to every subscription of these audiences, through the outbox."""
        wanted = list(dict.fromkeys(keys))
        if self._subscriptions is None:
            subscriptions = list(await repository.subscriptions_for(self.session, wanted))
        else:
            subscriptions = [s for key in wanted for s in self._subscriptions.get(key, [])]
        for subscription in subscriptions:
            delivery = WebhookDelivery(
                warning_id=warning_id,
                subscription_id=subscription.id,
                topic=f"risk.warning.{kind.value}",
                url=subscription.url,
                created_at=self.now,
            )
            self.session.add(delivery)
            await self.session.flush()
            outbox.enqueue(
                self.session,
                WEBHOOK_TOPIC,
                {
                    "delivery_id": delivery.id,
                    "subscriber": subscription.subscriber_key,
                    "kind": kind.value,
                    "data": payload,
                },
            )

    async def publish(self, bus: EventBus | None) -> None:
        if bus is None:
            return
        for line in self.lines:
            message = {"type": "feed", **_item(line).model_dump(mode="json")}
            try:
                await bus.publish(policies.channel(line.audience), message)
            except Exception:
                # Stored already: a dashboard that misses this reads it from the feed.
                log.warning("live publish of feed line %s failed", line.id, exc_info=True)


def sla_minutes(settings: Settings) -> tuple[int, int, int, int]:
    return policies.parse_sla_minutes(settings.warning_ack_sla_minutes)


# Names and body memberships change only when geography is reloaded: each process keeps what it
# read for a few minutes instead of asking on every report.
PLACE_CACHE_SECONDS = 300.0
_names: dict[tuple[str, str], tuple[float, str]] = {}
_memberships: dict[str, tuple[float, list[tuple[str, str]]]] = {}


async def _name(session: AsyncSession, level: str, adcode: str) -> str:
    cached = _names.get((level, adcode))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    name = await repository.jurisdiction_name(session, level, adcode) or adcode
    _names[(level, adcode)] = (time.monotonic() + PLACE_CACHE_SECONDS, name)
    return name


async def _bodies(session: AsyncSession, adcodes: Iterable[str]) -> dict[str, str]:
    """The coordination bodies these jurisdictions belong to (directly or through their province)."""
    found: dict[str, str] = {}
    for adcode in dict.fromkeys(adcodes):
        cached = _memberships.get(adcode)
        if cached is None or cached[0] <= time.monotonic():
            memberships = await geography_service.bodies_of(session=session, principal=SYSTEM, adcode=adcode)
            cached = (time.monotonic() + PLACE_CACHE_SECONDS, [(b.slug, b.name) for b in memberships.bodies])
            _memberships[adcode] = cached
        for slug, name in cached[1]:
            found.setdefault(slug, name)
    return found


def forget_places() -> None:
    """Drops the cached names and memberships (after a geography load, and between tests)."""
    _names.clear()
    _memberships.clear()


def _level_of(event: RiskEvent) -> int:
    return policies.effective_level(event.kind, event.warning_level, event.grade)


def change_of(event: RiskEvent) -> str | None:
    """What the journey does for a version: warn (active), end the warnings, or nothing (superseded)."""
    if event.status == "active":
        return "active"
    if event.status in ("cancelled", "closed"):
        return event.status
    return None


# --- the journey ---------------------------------------------------------------------------------


async def journey_for_event(
    *,
    session: AsyncSession,
    bus: EventBus | None,
    settings: Settings,
    event_id: int,
    spill: Spill,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Runs the journey for one event version once; a second run returns what the first found."""
    event = await repository.event(session, event_id)
    if event is None:
        raise errors.EventNotFound(event_id=event_id)
    change = change_of(event)
    if change is None:
        return []
    done = await repository.journey(session, event_id=event_id, change=change)
    if done is not None:
        return list(done.affected)
    affected = await spill(session, event) if change == "active" else []
    return await run_journey(
        session=session, bus=bus, settings=settings, event=event, affected=affected, now=now
    )


async def run_journey(
    *,
    session: AsyncSession,
    bus: EventBus | None,
    settings: Settings,
    event: RiskEvent,
    affected: Sequence[Reach],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Warns every affected jurisdiction (not the origin) and their coordination bodies, writes the
    responsibility list and the webhooks, commits, then tells open dashboards."""
    now = now or utcnow()
    change = change_of(event)
    root_id = event.root_id or event.id
    origin_key = policies.jurisdiction_key(event.origin_level, event.origin_adcode)
    reached = [
        item for item in affected if (item.level, item.adcode) != (event.origin_level, event.origin_adcode)
    ]
    result = [item.as_dict() for item in reached]
    if change is None:
        return []
    # Names and bodies are read before the write transaction takes any lock.
    origin_name = await _name(session, event.origin_level, event.origin_adcode)
    bodies = (
        await _bodies(session, [event.origin_adcode, *(item.adcode for item in reached)])
        if change == "active"
        else {}
    )
    level = _level_of(event)
    above = policies.level_above(event.origin_level, event.origin_adcode)
    above_name = await _name(session, *above) if above else ""
    changes = _Changes(session, now)
    async with transaction(session):
        if not await repository.claim_journey(
            session, event_id=event.id, change=change, root_id=root_id, affected=result, now=now
        ):
            # Done already, or being done by another process right now: its answer stands.
            done = await repository.journey(session, event_id=event.id, change=change)
            return list(done.affected) if done is not None else result
        if change == "active":
            await _warn(
                session,
                changes,
                settings=settings,
                event=event,
                root_id=root_id,
                origin_key=origin_key,
                origin_name=origin_name,
                reached=reached,
                bodies=bodies,
                level=level,
                above=above,
                above_name=above_name,
            )
        else:
            ended = await repository.end_warnings(session, root_id=root_id, status=change, now=now)
            for warning in await repository.warnings_by_ids(session, ended):
                view = _view(warning)
                changes.feed(
                    [warning.recipient_key, origin_key],
                    FeedKind.cancelled,
                    root_id=root_id,
                    warning_id=warning.id,
                    payload=view,
                )
                await changes.webhooks(
                    [warning.recipient_key], FeedKind.cancelled, warning_id=warning.id, payload=view
                )
                await audit.record(
                    session,
                    SYSTEM,
                    f"risk.warning.{change}",
                    object_type="risk_warning",
                    object_id=warning.id,
                    details={"event_id": event.id, "recipient": warning.recipient_key},
                )
    await changes.publish(bus)
    return result


async def _warn(
    session: AsyncSession,
    changes: _Changes,
    *,
    settings: Settings,
    event: RiskEvent,
    root_id: int,
    origin_key: str,
    origin_name: str,
    reached: Sequence[Reach],
    bodies: dict[str, str],
    level: int,
    above: tuple[str, str] | None,
    above_name: str,
) -> None:
    now = changes.now
    due = now + policies.ack_sla(sla_minutes(settings), level)
    common = {
        "event_id": event.id,
        "root_id": root_id,
        "origin_level": event.origin_level,
        "origin_adcode": event.origin_adcode,
        "origin_name": origin_name,
        "kind": event.kind,
        "level": level,
        "category": event.category,
        "event_type": event.event_type,
        "headline": event.headline[:300],
        "status": WarningStatus.active.value,
        "sent_at": now,
        "due_at": due,
        "escalation_step": 0,
        "acknowledged_by_name": "",
        "created_at": now,
        "updated_at": now,
    }
    rows = [
        {
            **common,
            "recipient_key": policies.jurisdiction_key(item.level, item.adcode),
            "recipient_kind": RecipientKind.jurisdiction.value,
            "recipient_level": item.level,
            "recipient_code": item.adcode,
            "recipient_name": item.name[:200],
            "role": PartyRole.support.value,
            "reason": item.reason[:300],
            "eta_hours": item.eta_hours,
            "confidence": item.confidence,
            "model": item.model[:60],
        }
        for item in reached
    ]
    rows += [
        {
            **common,
            "recipient_key": policies.body_key(slug),
            "recipient_kind": RecipientKind.body.value,
            "recipient_level": None,
            "recipient_code": slug,
            "recipient_name": name[:200],
            "role": PartyRole.coordinate.value,
            "reason": "coordination",
            "eta_hours": None,
            "confidence": None,
            "model": "",
        }
        for slug, name in bodies.items()
    ]
    above_key = policies.jurisdiction_key(*above) if above is not None else None
    await changes.load_subscriptions(
        [str(row["recipient_key"]) for row in rows] + ([above_key] if above_key else [])
    )
    fresh = await repository.insert_warnings(session, rows)
    refreshed = await repository.refresh_warnings(
        session,
        root_id=root_id,
        event_id=event.id,
        due_at=due,
        values={"level": level, "headline": event.headline[:300], "kind": event.kind, "updated_at": now},
    )
    for warning in await repository.warnings_by_ids(session, [*fresh, *refreshed]):
        view = _view(warning)
        kind = FeedKind.warning if warning.id in fresh else FeedKind.updated
        changes.feed(
            [warning.recipient_key, origin_key], kind, root_id=root_id, warning_id=warning.id, payload=view
        )
        await changes.webhooks([warning.recipient_key], kind, warning_id=warning.id, payload=view)
        await audit.record(
            session,
            SYSTEM,
            "risk.warning.sent" if kind == FeedKind.warning else "risk.warning.updated",
            object_type="risk_warning",
            object_id=warning.id,
            details={
                "event_id": event.id,
                "recipient": warning.recipient_key,
                "level": level,
                "sent_at": now.isoformat(),
                "due_at": warning.due_at.isoformat(),
            },
        )
    # The responsibility list: 发生地为主、波及地为辅, the body coordinates, the level above steps in.
    parties: list[tuple[str, RecipientKind, str | None, str, str, PartyRole]] = [
        (
            origin_key,
            RecipientKind.jurisdiction,
            event.origin_level,
            event.origin_adcode,
            origin_name,
            PartyRole.lead,
        )
    ]
    parties += [
        (
            policies.jurisdiction_key(item.level, item.adcode),
            RecipientKind.jurisdiction,
            item.level,
            item.adcode,
            item.name,
            PartyRole.support,
        )
        for item in reached
    ]
    parties += [
        (policies.body_key(slug), RecipientKind.body, None, slug, name, PartyRole.coordinate)
        for slug, name in bodies.items()
    ]
    take_over = above is not None and policies.exceeds_body_capacity(event.kind, level)
    if take_over and above is not None:
        parties.append(
            (
                policies.jurisdiction_key(*above),
                RecipientKind.jurisdiction,
                above[0],
                above[1],
                above_name,
                PartyRole.take_over,
            )
        )
    added = await repository.insert_parties(
        session,
        [
            {
                "root_id": root_id,
                "party_key": key,
                "kind": kind.value,
                "level": party_level,
                "code": code,
                "name": name[:200],
                "role": role.value,
                "added_at": now,
            }
            for key, kind, party_level, code, name, role in parties
        ],
    )
    by_key = {party[0]: party for party in parties}
    task_rows = []
    for key in added:
        _, _, _, _, name, role = by_key[key]
        for task in policies.DEFAULT_TASKS[role.value]:
            deadline = due if task.hours is None else now + timedelta(hours=task.hours)
            task_rows.append(
                {
                    "root_id": root_id,
                    "owner_key": key,
                    "owner_name": name[:200],
                    "role": role.value,
                    "title": task.title,
                    "title_en": task.title_en,
                    "deadline": deadline,
                    "status": "open",
                    "default_key": task.key,
                    "reminders": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    await repository.insert_default_tasks(session, task_rows)
    if take_over and above is not None and policies.jurisdiction_key(*above) in added:
        above_key = policies.jurisdiction_key(*above)
        payload = {
            "event_id": event.id,
            "headline": event.headline,
            "level": level,
            "kind": event.kind,
            "origin_key": origin_key,
            "origin_name": origin_name,
            "party_key": above_key,
            "party_name": above_name,
        }
        changes.feed(
            [above_key, origin_key, *(policies.body_key(slug) for slug in bodies)],
            FeedKind.take_over,
            root_id=root_id,
            warning_id=None,
            payload=payload,
        )
        await changes.webhooks([above_key], FeedKind.take_over, warning_id=None, payload=payload)
        await audit.record(
            session,
            SYSTEM,
            "risk.event.taken_over",
            object_type="risk_event",
            object_id=root_id,
            details={"by": above_key, "level": level, "kind": event.kind},
        )


# --- acknowledgement -----------------------------------------------------------------------------


async def acknowledge(
    *,
    session: AsyncSession,
    bus: EventBus | None,
    principal: Principal,
    warning_id: int,
    now: datetime | None = None,
) -> WarningOut:
    """The addressee's officer acknowledges a warning; only the first acknowledgement counts."""
    now = now or utcnow()
    warning = await repository.get_warning(session, warning_id)
    if warning is None:
        raise errors.WarningNotFound(warning_id=warning_id)
    require(
        policies.decide(principal, Action.acknowledge, Target(recipient_key=warning.recipient_key)),
        action="risk.warning.acknowledge",
    )
    changes = _Changes(session, now)
    name = principal.display_name or principal.username
    async with transaction(session):
        won = await repository.acknowledge(
            session, warning_id=warning_id, user_id=principal.user_id, name=name, now=now
        )
        await session.refresh(warning)
        if not won:
            if warning.acknowledged_at is not None:
                raise errors.AlreadyAcknowledged(
                    acknowledged_by=warning.acknowledged_by_name,
                    acknowledged_at=warning.acknowledged_at.isoformat(),
                    acknowledged_at_local=local(warning.acknowledged_at),
                )
            raise errors.WarningNotActive(
                status=warning.status, status_zh=STATUS_ZH.get(warning.status, warning.status)
            )
        view = _view(warning)
        origin_key = policies.jurisdiction_key(warning.origin_level, warning.origin_adcode)
        audiences = [warning.recipient_key, origin_key]
        for escalation in await repository.escalations_of(session, [warning.id]):
            audiences += escalation.to_keys
        changes.feed(
            audiences, FeedKind.acknowledged, root_id=warning.root_id, warning_id=warning.id, payload=view
        )
        await changes.webhooks([origin_key], FeedKind.acknowledged, warning_id=warning.id, payload=view)
        late_seconds = (now - warning.sent_at).total_seconds()
        await audit.record(
            session,
            principal,
            "risk.warning.acknowledged",
            object_type="risk_warning",
            object_id=warning.id,
            details={
                "recipient": warning.recipient_key,
                "acknowledged_at": now.isoformat(),
                "seconds_after_sent": round(late_seconds, 3),
                "escalation_step": warning.escalation_step,
            },
        )
    await changes.publish(bus)
    return WarningOut.model_validate(warning)


# --- escalation ----------------------------------------------------------------------------------


async def escalate_due(
    *, db: Database, settings: Settings, bus: EventBus | None, now: datetime | None = None
) -> int:
    """Moves every overdue, unacknowledged warning one step: to its coordination body, then to the
    level above; records the slow acknowledgement. Returns how many steps were taken."""
    now = now or utcnow()
    taken = 0
    for step in (1, 0):  # second steps first, so one run never takes a warning up twice
        async with db.sessionmaker() as session:
            ids = await repository.overdue_ids(session, step=step, now=now)
        for warning_id in ids:
            async with db.sessionmaker() as session:
                if await _escalate_one(
                    session, settings=settings, bus=bus, warning_id=warning_id, step=step, now=now
                ):
                    taken += 1
    return taken


async def _escalate_one(
    session: AsyncSession,
    *,
    settings: Settings,
    bus: EventBus | None,
    warning_id: int,
    step: int,
    now: datetime,
) -> bool:
    warning = await repository.get_warning(session, warning_id)
    if warning is None:
        return False
    if step == 0:
        bodies = await _bodies(session, [warning.recipient_code])
        to_keys = [policies.body_key(slug) for slug in bodies]
    else:
        above = policies.level_above(warning.recipient_level or "", warning.recipient_code)
        to_keys = [policies.jurisdiction_key(*above)] if above else []
    next_due = now + policies.ack_sla(sla_minutes(settings), warning.level)
    changes = _Changes(session, now)
    async with transaction(session):
        if not await repository.take_escalation(
            session, warning_id=warning_id, step=step, now=now, next_due=next_due
        ):
            return False
        await session.refresh(warning)
        repository.add_escalation(session, warning_id=warning_id, step=step + 1, to_keys=to_keys, now=now)
        view = _view(warning)
        payload = {**view, "escalated_to": to_keys, "step": step + 1}
        origin_key = policies.jurisdiction_key(warning.origin_level, warning.origin_adcode)
        changes.feed(
            [*to_keys, warning.recipient_key, origin_key],
            FeedKind.escalated,
            root_id=warning.root_id,
            warning_id=warning.id,
            payload=payload,
        )
        await changes.webhooks(
            [*to_keys, warning.recipient_key], FeedKind.escalated, warning_id=warning.id, payload=payload
        )
        if step == 0:
            recorded = await repository.record_accountability(
                session,
                {
                    "kind": "slow_acknowledgement",
                    "party_key": warning.recipient_key,
                    "party_name": warning.recipient_name,
                    "root_id": warning.root_id,
                    "warning_id": warning.id,
                    "details": {"sent_at": warning.sent_at.isoformat(), "level": warning.level},
                    "recorded_at": now,
                },
            )
            if recorded:
                await audit.record(
                    session,
                    SYSTEM,
                    "risk.accountability.slow_acknowledgement",
                    object_type="risk_warning",
                    object_id=warning.id,
                    details={"party": warning.recipient_key, "sent_at": warning.sent_at.isoformat()},
                )
        await audit.record(
            session,
            SYSTEM,
            "risk.warning.escalated",
            object_type="risk_warning",
            object_id=warning.id,
            details={"step": step + 1, "to": to_keys, "escalated_at": now.isoformat()},
        )
    await changes.publish(bus)
    return True


# --- tasks and reminders -------------------------------------------------------------------------


def _task_view(task: ResponsibilityTask, now: datetime) -> TaskOut:
    view = TaskOut.model_validate(task)
    view.overdue = task.status == "open" and task.deadline <= now
    return view


async def _root_of(session: AsyncSession, event_id: int) -> int:
    event = await repository.event(session, event_id)
    if event is None:
        raise errors.EventNotFound(event_id=event_id)
    return event.root_id or event.id


async def add_task(
    *,
    session: AsyncSession,
    bus: EventBus | None,
    principal: Principal,
    event_id: int,
    data: TaskIn,
    now: datetime | None = None,
) -> TaskOut:
    """A lead, coordinating or taking-over party adds a task for any party of the event."""
    now = now or utcnow()
    root_id = await _root_of(session, event_id)
    parties = await repository.parties(session, root_id)
    require(
        policies.decide(
            principal, Action.add_task, Target(party_roles=frozenset((p.party_key, p.role) for p in parties))
        ),
        action="risk.task.add",
    )
    owner = next((p for p in parties if p.party_key == data.owner_key), None)
    if owner is None:
        raise errors.NotAParty(owner=data.owner_key)
    if data.deadline.tzinfo is None or not (
        now - timedelta(minutes=1) <= data.deadline <= now + MAX_TASK_AHEAD
    ):
        raise errors.DeadlineOutOfRange(deadline=str(data.deadline))
    changes = _Changes(session, now)
    async with transaction(session):
        task = ResponsibilityTask(
            root_id=root_id,
            owner_key=owner.party_key,
            owner_name=owner.name,
            role=owner.role,
            title=data.title,
            title_en=data.title_en,
            deadline=data.deadline,
            status="open",
            created_by_user_id=principal.user_id,
            reminders=0,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        await session.flush()
        view = _task_view(task, now)
        payload = {"task": view.model_dump(mode="json"), "change": "added"}
        changes.feed([owner.party_key], FeedKind.task, root_id=root_id, warning_id=None, payload=payload)
        await audit.record(
            session,
            principal,
            "risk.task.added",
            object_type="risk_task",
            object_id=task.id,
            details={"root_id": root_id, "owner": owner.party_key, "deadline": data.deadline.isoformat()},
        )
    await changes.publish(bus)
    return view


async def complete_task(
    *,
    session: AsyncSession,
    bus: EventBus | None,
    principal: Principal,
    task_id: int,
    now: datetime | None = None,
) -> TaskOut:
    """The owner marks its task done, once."""
    now = now or utcnow()
    task = await repository.get_task(session, task_id)
    if task is None:
        raise errors.TaskNotFound(task_id=task_id)
    require(
        policies.decide(principal, Action.complete_task, Target(recipient_key=task.owner_key)),
        action="risk.task.complete",
    )
    changes = _Changes(session, now)
    async with transaction(session):
        if not await repository.complete_task(session, task_id=task_id, user_id=principal.user_id, now=now):
            raise errors.TaskAlreadyDone(task_id=task_id)
        await session.refresh(task)
        view = _task_view(task, now)
        changes.feed(
            [task.owner_key],
            FeedKind.task,
            root_id=task.root_id,
            warning_id=None,
            payload={"task": view.model_dump(mode="json"), "change": "done"},
        )
        await audit.record(
            session,
            principal,
            "risk.task.completed",
            object_type="risk_task",
            object_id=task.id,
            details={"root_id": task.root_id},
        )
    await changes.publish(bus)
    return view


async def remind_overdue(
    *, db: Database, settings: Settings, bus: EventBus | None, now: datetime | None = None
) -> int:
    """Reminds the owner of every overdue open task, then again every reminder interval."""
    now = now or utcnow()
    remind_before = now - timedelta(minutes=settings.warning_task_reminder_minutes)
    async with db.sessionmaker() as session:
        ids = await repository.overdue_task_ids(session, now=now, remind_before=remind_before)
    sent = 0
    for task_id in ids:
        async with db.sessionmaker() as session:
            changes = _Changes(session, now)
            async with transaction(session):
                if not await repository.take_reminder(
                    session, task_id=task_id, now=now, remind_before=remind_before
                ):
                    continue
                task = await repository.get_task(session, task_id)
                assert task is not None
                await session.refresh(task)
                payload = {"task": _task_view(task, now).model_dump(mode="json"), "change": "overdue"}
                changes.feed(
                    [task.owner_key],
                    FeedKind.reminder,
                    root_id=task.root_id,
                    warning_id=None,
                    payload=payload,
                )
                await changes.webhooks([task.owner_key], FeedKind.reminder, warning_id=None, payload=payload)
                await audit.record(
                    session,
                    SYSTEM,
                    "risk.task.reminded",
                    object_type="risk_task",
                    object_id=task.id,
                    details={
                        "owner": task.owner_key,
                        "deadline": task.deadline.isoformat(),
                        "reminder": task.reminders,
                    },
                )
            await changes.publish(bus)
            sent += 1
    return sent


# --- readers -------------------------------------------------------------------------------------


async def dashboard(
    *, session: AsyncSession, principal: Principal, limit: int = 200
) -> tuple[list[str], WarningList, int]:
    """The principal's audiences, the warnings to them or from their events, and the feed's head."""
    require(policies.decide(principal, Action.read), action="risk.warning.read")
    keys = sorted(policies.audiences(principal))
    warnings = await repository.warnings_for(session, keys, limit=limit)
    head = await repository.latest_feed(session, audiences=keys, limit=1)
    return (
        keys,
        WarningList(warnings=[WarningOut.model_validate(w) for w in warnings]),
        head[-1].id if head else 0,
    )


async def feed(
    *, session: AsyncSession, principal: Principal, after: int, now: datetime | None = None, limit: int = 500
) -> Feed:
    """Feed lines for the principal's audiences after a sequence (and the last moments again)."""
    require(policies.decide(principal, Action.read), action="risk.warning.read")
    now = now or utcnow()
    keys = policies.audiences(principal)
    rows = await repository.feed_after(
        session, audiences=keys, after=after, since=now - REPLAY_GRACE, limit=limit
    )
    return Feed(audiences=sorted(keys), items=[_item(row) for row in rows])


async def mark_seen(
    *, session: AsyncSession, principal: Principal, warning_ids: Sequence[int], now: datetime | None = None
) -> list[int]:
    """Records the first time a warning reached an open dashboard of its addressee (a delivery)."""
    now = now or utcnow()
    if not warning_ids:
        return []
    async with transaction(session):
        marked = await repository.mark_seen(session, warning_ids=warning_ids, now=now)
        for warning_id in marked:
            await audit.record(
                session,
                principal,
                "risk.warning.delivered",
                object_type="risk_warning",
                object_id=warning_id,
                details={"channel": "dashboard", "delivered_at": now.isoformat()},
            )
    return marked


async def responsibility(
    *, session: AsyncSession, principal: Principal, event_id: int, now: datetime | None = None
) -> Responsibility:
    """An event's responsibility list (parties, tasks), its warnings and its timeline."""
    require(policies.decide(principal, Action.read), action="risk.responsibility.read")
    now = now or utcnow()
    root_id = await _root_of(session, event_id)
    parties = await repository.parties(session, root_id)
    tasks = await repository.tasks(session, root_id)
    warnings = await repository.warnings_of_root(session, root_id)
    escalations = await repository.escalations_of(session, [w.id for w in warnings])
    by_id = {w.id: w for w in warnings}
    timeline: list[TimelineEntry] = []
    for w in warnings:
        timeline.append(
            TimelineEntry(
                at=w.sent_at,
                kind="sent",
                text=f"向{w.recipient_name}发出预警",
                text_en=f"Warning sent to {w.recipient_name}",
            )
        )
        if w.acknowledged_at is not None:
            timeline.append(
                TimelineEntry(
                    at=w.acknowledged_at,
                    kind="acknowledged",
                    text=f"{w.recipient_name}已确认（{w.acknowledged_by_name}）",
                    text_en=f"{w.recipient_name} acknowledged ({w.acknowledged_by_name})",
                )
            )
        if w.closed_at is not None:
            timeline.append(
                TimelineEntry(
                    at=w.closed_at,
                    kind=w.status,
                    text=f"发往{w.recipient_name}的预警已{STATUS_ZH.get(w.status, w.status)}",
                    text_en=f"Warning to {w.recipient_name} {w.status}",
                )
            )
    for e in escalations:
        target = by_id[e.warning_id]
        to = "、".join(e.to_keys) or "—"
        timeline.append(
            TimelineEntry(
                at=e.escalated_at,
                kind="escalated",
                text=f"{target.recipient_name}超时未确认，第{e.step}级上报：{to}",
                text_en=f"{target.recipient_name} did not acknowledge in time; escalation {e.step} to {to}",
            )
        )
    for p in parties:
        if p.role == PartyRole.take_over.value:
            timeline.append(
                TimelineEntry(
                    at=p.added_at,
                    kind="take_over",
                    text=f"超出协调机构处置能力，由{p.name}接管",
                    text_en=f"Beyond the body's capacity: {p.name} takes over",
                )
            )
    for t in tasks:
        if t.done_at is not None:
            timeline.append(
                TimelineEntry(
                    at=t.done_at,
                    kind="task_done",
                    text=f"{t.owner_name}完成任务：{t.title}",
                    text_en=f"{t.owner_name} completed: {t.title_en or t.title}",
                )
            )
    timeline.sort(key=lambda entry: entry.at)
    return Responsibility(
        root_id=root_id,
        parties=[PartyOut.model_validate(p) for p in parties],
        tasks=[_task_view(t, now) for t in tasks],
        warnings=[WarningOut.model_validate(w) for w in warnings],
        timeline=timeline,
    )


# --- webhook subscriptions and deliveries ---------------------------------------------------------


async def subscribe_webhook(*, session: AsyncSession, principal: Principal, data: WebhookIn) -> WebhookOut:
    """A jurisdiction's or body's officer registers its own system's address for signed warnings."""
    require(
        policies.decide(principal, Action.manage_webhooks, Target(recipient_key=data.subscriber_key)),
        action="risk.webhook.subscribe",
    )
    if not data.url.startswith(("http://", "https://")):
        raise errors.BadWebhookUrl(url=data.url)
    now = utcnow()
    async with transaction(session):
        await repository.add_subscription(
            session, key=data.subscriber_key, url=data.url, user_id=principal.user_id, now=now
        )
        subscription = await repository.subscription_by_url(session, key=data.subscriber_key, url=data.url)
        assert subscription is not None
        await audit.record(
            session,
            principal,
            "risk.webhook.subscribed",
            object_type="risk_webhook_subscription",
            object_id=subscription.id,
            details={"subscriber": data.subscriber_key, "url": data.url},
        )
    return WebhookOut.model_validate(subscription)


def webhook_envelope(message: outbox.Message) -> bytes:
    """What a subscriber receives: the outbox message id (stable across retries), kind, time, data."""
    envelope = {
        "id": message.id,
        "topic": f"risk.warning.{message.payload.get('kind', '')}",
        "subscriber": message.payload.get("subscriber"),
        "created_at": message.created_at.isoformat(),
        "data": message.payload.get("data", {}),
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


async def deliver_webhook(
    *, db: Database, settings: Settings, transport: outbox.Transport, message: outbox.Message
) -> None:
    """Posts one signed webhook; marks the delivery (timestamped, audited) or raises for a retry."""
    delivery_id = int(message.payload["delivery_id"])
    async with db.sessionmaker() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status == "delivered":
            return  # a redelivery of one already marked: nothing more to send
        url = delivery.url
    body = webhook_envelope(message)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=settings.webhook_secret),
        "Regio-Delivery": str(message.id),
        "Regio-Topic": f"risk.warning.{message.payload.get('kind', '')}",
        "User-Agent": "Regio-Webhooks/1",
    }
    error: str | None = None
    try:
        status = await transport.post(url, content=body, headers=headers)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except Exception as exc:  # a network failure is retried like a refusal
        error = f"{type(exc).__name__}: {exc}"
    now = utcnow()
    async with db.sessionmaker() as session, session.begin():
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return
        delivery.attempts += 1
        if error is None:
            delivery.status = "delivered"
            delivery.delivered_at = now
            delivery.last_error = None
            await audit.record(
                session,
                SYSTEM,
                "risk.warning.webhook_delivered",
                object_type="risk_warning",
                object_id=delivery.warning_id,
                details={
                    "delivery_id": delivery.id,
                    "url": url,
                    "delivered_at": now.isoformat(),
                    "attempt": message.attempt,
                },
            )
        else:
            delivery.last_error = error[:2000]
    if error is not None:
        raise outbox.DeliveryFailed(error)
