"""Queries of the spillover subdomain; never commits (the service owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.db import utcnow
from regio.risk.spillover.models import RiverNetwork, RiverReach
from regio.risk.spillover.river import Reach

_BATCH = 500


async def reaches_version(session: AsyncSession) -> tuple[int, int, str]:
    """(reaches, highest reach id, latest import time): changes whenever any import commits."""
    reaches = (await session.execute(select(func.count(RiverReach.id), func.max(RiverReach.id)))).one()
    latest = await session.scalar(select(func.max(RiverNetwork.updated_at)))
    return int(reaches[0] or 0), int(reaches[1] or 0), latest.isoformat() if latest is not None else ""


async def all_reaches(session: AsyncSession) -> Sequence[tuple[RiverReach, str]]:
    rows = await session.execute(
        select(RiverReach, RiverNetwork.name)
        .join(RiverNetwork, RiverNetwork.id == RiverReach.network_id)
        .order_by(RiverReach.network_id, RiverReach.position)
    )
    return [(reach, name) for reach, name in rows.all()]


def as_reach(row: tuple[RiverReach, str]) -> Reach:
    reach, network = row
    return Reach(
        network=network,
        river=reach.river,
        river_en=reach.river,
        source=reach.from_node,
        target=reach.to_node,
        length_km=reach.length_km,
        travel_hours=reach.travel_hours,
        adcodes=tuple(code for code in reach.adcodes.split(",") if code),
        source_lon=reach.from_lon,
        source_lat=reach.from_lat,
        target_lon=reach.to_lon,
        target_lat=reach.to_lat,
    )


async def claim_network(session: AsyncSession, *, name: str, source: str) -> tuple[int, bool]:
    """Inserts the network or bumps its revision (locking the row); returns (id, replaced)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = dialect.insert(RiverNetwork).values(
        name=name, source=source, revision=1, reach_count=0, created_at=now, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[RiverNetwork.name],
        set_={"revision": RiverNetwork.revision + 1, "source": source, "updated_at": now},
    ).returning(RiverNetwork.id, RiverNetwork.revision)
    network_id, revision = (await session.execute(statement)).one()
    return int(network_id), int(revision) > 1


async def replace_reaches(session: AsyncSession, network_id: int, reaches: Sequence[Reach]) -> None:
    await session.execute(delete(RiverReach).where(RiverReach.network_id == network_id))
    rows = [
        {
            "network_id": network_id,
            "position": position,
            "river": reach.river,
            "from_node": reach.source,
            "to_node": reach.target,
            "from_lon": reach.source_lon,
            "from_lat": reach.source_lat,
            "to_lon": reach.target_lon,
            "to_lat": reach.target_lat,
            "length_km": reach.length_km,
            "travel_hours": reach.travel_hours,
            "adcodes": ",".join(reach.adcodes),
        }
        for position, reach in enumerate(reaches)
    ]
    for start in range(0, len(rows), _BATCH):
        await session.execute(insert(RiverReach), rows[start : start + _BATCH])
    network = await session.get(RiverNetwork, network_id)
    if network is not None:
        network.reach_count = len(rows)
