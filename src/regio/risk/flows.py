"""Journeys of Regio Risk that cross subdomains: a reported event is spilled over and warned.

Routes that accept a report (the form, the JSON API, a CAP alert) commit the event first and
then call `after_event_change`; the outbox message the event wrote in its own transaction is
the backstop that runs the same journey if the process dies in between, so the journey must be
idempotent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.events import EventBus


async def after_event_change(*, session: AsyncSession, bus: EventBus, event_id: int) -> list[dict[str, Any]]:
    """Works out who else the event reaches, warns them, and returns the affected jurisdictions."""
    return []
