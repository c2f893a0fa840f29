"""Where a scope lies: core stores scopes as kind + id without knowing them, applications tell it.

An application registers, per scope kind, how to find the adcode a scope lies in (the
registry knows which city a hospital is in). Identity asks when a rule depends on place,
such as a health_admin granting hospital_admin within its region; no answer means deny.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.access import ScopeKind

PlaceResolver = Callable[[AsyncSession, str], Awaitable[str | None]]

_resolvers: dict[ScopeKind, PlaceResolver] = {}


def register_place_resolver(scope_kind: ScopeKind, resolver: PlaceResolver) -> None:
    """Tells identity how to find the adcode a scope of this kind lies in (e.g. a hospital's city)."""
    _resolvers[scope_kind] = resolver


def unregister_place_resolver(scope_kind: ScopeKind) -> None:
    _resolvers.pop(scope_kind, None)


async def place_of(session: AsyncSession, scope_kind: ScopeKind, scope_id: str) -> str | None:
    """The adcode the scope lies in; jurisdictions and regions are their own adcode."""
    if scope_kind in (ScopeKind.region, ScopeKind.jurisdiction):
        return scope_id
    resolver = _resolvers.get(scope_kind)
    if resolver is None:
        return None
    return await resolver(session, scope_id)
