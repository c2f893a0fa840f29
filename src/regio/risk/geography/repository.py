"""Queries of the geography subdomain; never commits (the service owns the transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.access import ScopeKind
from regio.core.identity.models import RoleAssignment, User
from regio.risk.geography.models import (
    CoordinationBody,
    CoordinationBodyMember,
    CoordinationOffice,
    GeographyLoad,
    Jurisdiction,
    JurisdictionAdjacency,
)

_BATCH = 200

# The light columns: everything but the boundaries.
_SUMMARY = (
    Jurisdiction.level,
    Jurisdiction.adcode,
    Jurisdiction.name,
    Jurisdiction.parent_adcode,
    Jurisdiction.province_adcode,
    Jurisdiction.area_km2,
    Jurisdiction.label_lon,
    Jurisdiction.label_lat,
    Jurisdiction.min_lon,
    Jurisdiction.min_lat,
    Jurisdiction.max_lon,
    Jurisdiction.max_lat,
)


# --- loads and the index -------------------------------------------------------------------------


async def latest_load_id(session: AsyncSession) -> int | None:
    value = await session.scalar(select(func.max(GeographyLoad.id)))
    return int(value) if value is not None else None


async def index_rows(session: AsyncSession) -> Sequence[Any]:
    """What the in-memory index needs: keys, names, parents, areas and full boundaries."""
    result = await session.execute(
        select(
            Jurisdiction.level,
            Jurisdiction.adcode,
            Jurisdiction.name,
            Jurisdiction.parent_adcode,
            Jurisdiction.area_km2,
            Jurisdiction.geometry_wkb,
        ).order_by(Jurisdiction.level, Jurisdiction.adcode)
    )
    return result.all()


async def existing_ids(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    wanted = list(keys)
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        result = await session.execute(
            select(Jurisdiction.level, Jurisdiction.adcode, Jurisdiction.id).where(
                tuple_(Jurisdiction.level, Jurisdiction.adcode).in_(chunk)
            )
        )
        found.update({(level, adcode): row_id for level, adcode, row_id in result.all()})
    return found


async def insert_jurisdictions(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _BATCH):
        await session.execute(insert(Jurisdiction), rows[start : start + _BATCH])


async def update_jurisdictions(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Rows carry their primary key `id`: an ORM bulk UPDATE by primary key."""
    for start in range(0, len(rows), _BATCH):
        await session.execute(update(Jurisdiction), rows[start : start + _BATCH])


async def replace_adjacency(
    session: AsyncSession, level: str, adcodes: Sequence[str], pairs: list[tuple[str, str, float]]
) -> None:
    """Drops every stored border of the given jurisdictions at `level`, then stores `pairs` both ways."""
    for start in range(0, len(adcodes), _BATCH):
        chunk = list(adcodes[start : start + _BATCH])
        await session.execute(
            delete(JurisdictionAdjacency).where(
                JurisdictionAdjacency.level == level,
                or_(
                    JurisdictionAdjacency.adcode.in_(chunk), JurisdictionAdjacency.neighbor_adcode.in_(chunk)
                ),
            )
        )
    rows = []
    for a, b, km in pairs:
        rows.append({"level": level, "adcode": a, "neighbor_adcode": b, "shared_border_km": km})
        rows.append({"level": level, "adcode": b, "neighbor_adcode": a, "shared_border_km": km})
    for start in range(0, len(rows), _BATCH):
        await session.execute(insert(JurisdictionAdjacency), rows[start : start + _BATCH])


def add_load(session: AsyncSession, **fields: Any) -> GeographyLoad:
    load = GeographyLoad(**fields)
    session.add(load)
    return load


# --- reading jurisdictions -----------------------------------------------------------------------


async def jurisdictions_by_adcode(session: AsyncSession, adcode: str) -> Sequence[Any]:
    result = await session.execute(select(*_SUMMARY).where(Jurisdiction.adcode == adcode))
    return result.all()


async def children(session: AsyncSession, parent_adcode: str, level: str) -> Sequence[Any]:
    result = await session.execute(
        select(Jurisdiction.adcode, Jurisdiction.name, Jurisdiction.level)
        .where(Jurisdiction.parent_adcode == parent_adcode, Jurisdiction.level == level)
        .order_by(Jurisdiction.adcode)
    )
    return result.all()


async def neighbors(session: AsyncSession, level: str, adcode: str) -> Sequence[Any]:
    result = await session.execute(
        select(
            Jurisdiction.adcode, Jurisdiction.name, Jurisdiction.level, JurisdictionAdjacency.shared_border_km
        )
        .join(
            Jurisdiction,
            and_(
                Jurisdiction.level == JurisdictionAdjacency.level,
                Jurisdiction.adcode == JurisdictionAdjacency.neighbor_adcode,
            ),
        )
        .where(JurisdictionAdjacency.level == level, JurisdictionAdjacency.adcode == adcode)
        .order_by(Jurisdiction.adcode)
    )
    return result.all()


async def map_features(
    session: AsyncSession,
    *,
    level: str,
    fine: bool,
    bbox: tuple[float, float, float, float] | None,
    limit: int,
) -> Sequence[Any]:
    """Simplified boundaries of one level, optionally only those whose box meets `bbox`."""
    column = Jurisdiction.map_fine if fine else Jurisdiction.map_coarse
    query = select(
        Jurisdiction.adcode,
        Jurisdiction.name,
        Jurisdiction.level,
        Jurisdiction.label_lon,
        Jurisdiction.label_lat,
        column,
    ).where(Jurisdiction.level == level)
    if bbox is not None:
        west, south, east, north = bbox
        query = query.where(
            Jurisdiction.max_lon >= west,
            Jurisdiction.min_lon <= east,
            Jurisdiction.max_lat >= south,
            Jurisdiction.min_lat <= north,
        )
    result = await session.execute(query.order_by(Jurisdiction.adcode).limit(limit))
    return result.all()


# --- coordination bodies -------------------------------------------------------------------------


async def body_by_slug(session: AsyncSession, slug: str) -> CoordinationBody | None:
    body: CoordinationBody | None = await session.scalar(
        select(CoordinationBody).where(CoordinationBody.slug == slug)
    )
    return body


async def list_bodies(session: AsyncSession) -> Sequence[Any]:
    result = await session.execute(
        select(CoordinationBody, func.count(CoordinationBodyMember.adcode))
        .outerjoin(CoordinationBodyMember, CoordinationBodyMember.body_id == CoordinationBody.id)
        .group_by(CoordinationBody.id)
        .order_by(CoordinationBody.slug)
    )
    return result.all()


async def members(session: AsyncSession, body_id: int) -> Sequence[CoordinationBodyMember]:
    result = await session.scalars(
        select(CoordinationBodyMember)
        .where(CoordinationBodyMember.body_id == body_id)
        .order_by(CoordinationBodyMember.level, CoordinationBodyMember.adcode)
    )
    return result.all()


async def offices(session: AsyncSession, body_id: int) -> Sequence[CoordinationOffice]:
    result = await session.scalars(
        select(CoordinationOffice)
        .where(CoordinationOffice.body_id == body_id)
        .order_by(CoordinationOffice.category)
    )
    return result.all()


async def bodies_with_member(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> Sequence[Any]:
    """Bodies having any of the (level, adcode) keys as a member, with their member counts."""
    wanted = list(keys)
    body_ids = (
        select(CoordinationBodyMember.body_id)
        .where(tuple_(CoordinationBodyMember.level, CoordinationBodyMember.adcode).in_(wanted))
        .scalar_subquery()
    )
    result = await session.execute(
        select(CoordinationBody, func.count(CoordinationBodyMember.adcode))
        .outerjoin(CoordinationBodyMember, CoordinationBodyMember.body_id == CoordinationBody.id)
        .where(CoordinationBody.id.in_(body_ids))
        .group_by(CoordinationBody.id)
        .order_by(CoordinationBody.slug)
    )
    return result.all()


async def body_officers(session: AsyncSession, slug: str) -> Sequence[Any]:
    """People holding a role in the body's scope (identity's role grants, ScopeKind.coordination_body)."""
    result = await session.execute(
        select(User.id, User.display_name, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            RoleAssignment.scope_kind == ScopeKind.coordination_body.value,
            RoleAssignment.scope_id == slug,
            User.is_active.is_(True),
        )
        .order_by(RoleAssignment.role, User.id)
    )
    return result.all()


def add_body(session: AsyncSession, **fields: Any) -> CoordinationBody:
    body = CoordinationBody(**fields)
    session.add(body)
    return body


async def replace_members(session: AsyncSession, body_id: int, rows: list[dict[str, str]]) -> None:
    await session.execute(delete(CoordinationBodyMember).where(CoordinationBodyMember.body_id == body_id))
    if rows:
        await session.execute(insert(CoordinationBodyMember), [{"body_id": body_id, **row} for row in rows])


async def replace_offices(session: AsyncSession, body_id: int, rows: list[dict[str, Any]]) -> None:
    await session.execute(delete(CoordinationOffice).where(CoordinationOffice.body_id == body_id))
    if rows:
        await session.execute(insert(CoordinationOffice), [{"body_id": body_id, **row} for row in rows])
