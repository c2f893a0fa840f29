"""Queries of risk reports; they never commit (the service owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.db import utcnow
from regio.risk.events.enums import Status
from regio.risk.events.models import RiskEvent, RiskEventAttachment

# The states in which a chain's newest row stands for the whole chain.
CURRENT = (Status.active.value, Status.cancelled.value, Status.closed.value, Status.merged.value)


async def get(session: AsyncSession, event_id: int) -> RiskEvent | None:
    return await session.get(RiskEvent, event_id)


async def by_identifier(session: AsyncSession, identifier: str) -> RiskEvent | None:
    result = await session.execute(select(RiskEvent).where(RiskEvent.identifier == identifier))
    return result.scalar_one_or_none()


async def chain(session: AsyncSession, root_id: int) -> Sequence[RiskEvent]:
    """Every version of one report, oldest first."""
    result = await session.execute(
        select(RiskEvent).where(RiskEvent.root_id == root_id).order_by(RiskEvent.version)
    )
    return result.scalars().all()


async def current_of(session: AsyncSession, root_id: int) -> RiskEvent | None:
    result = await session.execute(
        select(RiskEvent).where(RiskEvent.root_id == root_id).order_by(RiskEvent.version.desc()).limit(1)
    )
    return result.scalar_one_or_none()


def add(session: AsyncSession, event: RiskEvent) -> RiskEvent:
    session.add(event)
    return event


async def supersede(session: AsyncSession, event_id: int) -> bool:
    """Marks an active version superseded; False if another writer got there first (the race's decider)."""
    result = await session.execute(
        update(RiskEvent)
        .where(RiskEvent.id == event_id, RiskEvent.status == Status.active.value)
        .values(status=Status.superseded.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lock_active(session: AsyncSession, event_id: int) -> bool:
    """Takes the row lock of an active version (a no-op write); False when it is not active."""
    result = await session.execute(
        update(RiskEvent)
        .where(RiskEvent.id == event_id, RiskEvent.status == Status.active.value)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_merged(session: AsyncSession, event_id: int, into_root_id: int) -> bool:
    result = await session.execute(
        update(RiskEvent)
        .where(RiskEvent.id == event_id, RiskEvent.status == Status.active.value)
        .values(status=Status.merged.value, merged_into_id=into_root_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def duplicate_candidates(
    session: AsyncSession,
    *,
    event_type: str,
    earliest: datetime,
    latest: datetime,
    exclude_root_id: int | None,
    limit: int = 200,
) -> Sequence[RiskEvent]:
    """Active reports of one type detected within a time window (the area is compared by the caller)."""
    query = select(RiskEvent).where(
        RiskEvent.event_type == event_type,
        RiskEvent.status == Status.active.value,
        RiskEvent.detected_at >= earliest,
        RiskEvent.detected_at <= latest,
    )
    if exclude_root_id is not None:
        query = query.where(RiskEvent.root_id != exclude_root_id)
    result = await session.execute(query.order_by(RiskEvent.detected_at).limit(limit))
    return result.scalars().all()


def within(prefixes: Sequence[str]) -> ColumnElement[bool]:
    """Origin adcodes starting with any of the prefixes (a jurisdiction and everything inside it)."""
    if not prefixes:
        return false()
    return or_(*(RiskEvent.origin_adcode.startswith(prefix, autoescape=True) for prefix in prefixes))


async def list_current(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    origin_prefixes: Sequence[str] | None,
    scope: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[RiskEvent]:
    """The current versions in the given states, newest first; `origin_prefixes` None means everywhere."""
    query = select(RiskEvent).where(RiskEvent.status.in_(statuses))
    if origin_prefixes is not None:
        query = query.where(within(origin_prefixes))
    if scope is not None:
        query = query.where(RiskEvent.scope == scope)
    query = query.order_by(RiskEvent.reported_at.desc(), RiskEvent.id.desc()).limit(limit).offset(offset)
    result = await session.execute(query)
    return result.scalars().all()


def add_attachment(session: AsyncSession, attachment: RiskEventAttachment) -> RiskEventAttachment:
    session.add(attachment)
    return attachment


async def attachments(session: AsyncSession, event_ids: Sequence[int]) -> Sequence[RiskEventAttachment]:
    """Attachments' metadata of some versions (the bytes stay unloaded)."""
    if not event_ids:
        return []
    result = await session.execute(
        select(
            RiskEventAttachment.id,
            RiskEventAttachment.event_id,
            RiskEventAttachment.filename,
            RiskEventAttachment.content_type,
            RiskEventAttachment.size_bytes,
            RiskEventAttachment.sha256,
            RiskEventAttachment.created_at,
        )
        .where(RiskEventAttachment.event_id.in_(event_ids))
        .order_by(RiskEventAttachment.id)
    )
    return result.all()  # type: ignore[return-value]


async def attachment(session: AsyncSession, attachment_id: int) -> RiskEventAttachment | None:
    return await session.get(RiskEventAttachment, attachment_id)
