"""Journeys of Regio Risk that cross subdomains: a reported event is spilled over and warned.

Routes that accept a report (the form, the JSON API, a CAP alert) commit the event first and
then call `after_event_change`; the outbox message the event wrote in its own transaction is
the backstop that runs the same journey if the process dies in between, so the journey must be
idempotent (warnings are unique per event root and recipient, and each version's journey is
marked done in the transaction that does it).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.config import Settings, get_settings
from regio.core.events import EventBus
from regio.risk.events.models import RiskEvent
from regio.risk.geography.engine import IndexHolder
from regio.risk.spillover import service as spillover_service
from regio.risk.warnings import policies as warnings_policies
from regio.risk.warnings import service as warnings_service
from regio.risk.warnings.service import Reach

log = logging.getLogger("regio.risk.flows")

# Used when a caller has no app at hand (the outbox backstop in a worker): one per process.
_holder = IndexHolder()


def process_index_holder() -> IndexHolder:
    return _holder


def use_index_holder(holder: IndexHolder) -> None:
    """Shares the app's geography index with the journeys that run without a request."""
    global _holder
    _holder = holder


async def _spillover(session: AsyncSession, holder: IndexHolder, event: RiskEvent) -> list[Reach]:
    """Who else the hazard reaches, by the spill-over models the event's type needs."""
    rank = warnings_policies.effective_level(event.kind, event.warning_level, event.grade)
    found = await spillover_service.affected_by_hazard(
        session=session,
        index_holder=holder,
        event_type=event.event_type,
        category=event.category,
        geometry=event.geometry,
        origin_level=event.origin_level,
        origin_adcode=event.origin_adcode,
        severity_rank=rank,
        detected_at=event.detected_at,
    )
    return [
        Reach(
            adcode=item.adcode,
            name=item.name,
            level=item.level,
            reason=item.reason,
            eta_hours=item.eta_hours,
            confidence=item.confidence,
            model=item.model,
        )
        for item in found
    ]


async def journey(
    *,
    session: AsyncSession,
    bus: EventBus | None,
    event_id: int,
    index_holder: IndexHolder | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """The journey itself; raises when it cannot finish, so the outbox backstop tries again."""
    holder = index_holder or _holder

    async def spill(spill_session: AsyncSession, event: RiskEvent) -> list[Reach]:
        return await _spillover(spill_session, holder, event)

    return await warnings_service.journey_for_event(
        session=session, bus=bus, settings=settings or get_settings(), event_id=event_id, spill=spill
    )


async def after_event_change(
    *,
    session: AsyncSession,
    bus: EventBus,
    event_id: int,
    index_holder: IndexHolder | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Works out who else the event reaches, warns them, and returns the affected jurisdictions.

    The report is committed already: a journey that fails here must not turn its acceptance into
    an error. It is logged and left to the outbox message the report wrote, which runs it again.
    """
    try:
        return await journey(
            session=session, bus=bus, event_id=event_id, index_holder=index_holder, settings=settings
        )
    except Exception:
        log.exception("journey of event %s failed; the outbox backstop will run it again", event_id)
        await session.rollback()
        return []
