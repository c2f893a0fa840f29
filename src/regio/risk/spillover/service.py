"""Spill-over services: which other jurisdictions a hazard reaches, and when; river network imports.

`affected_by_hazard` is what the warnings journey calls for every report: it runs the models that
fit the event type (enums.models_for), merges their answers per jurisdiction (earliest arrival,
highest confidence) and never lists the origin, a jurisdiction containing it or one inside it.
River and epidemic data are prefecture-level, so those two models answer at prefecture level (or
province level when asked), whatever the level the geometric models answer at.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core import audit
from regio.core.access import SYSTEM as CORE_SYSTEM
from regio.core.access import Principal, require
from regio.core.db import transaction
from regio.risk.geography import errors as geography_errors
from regio.risk.geography import service as geography
from regio.risk.geography.engine import GeographyIndex, IndexHolder
from regio.risk.geography.enums import Level
from regio.risk.geography.hazards import Hazard
from regio.risk.geography.hazards import from_geojson as parse_geojson
from regio.risk.spillover import epidemic, overlap, plume, policies, repository, river
from regio.risk.spillover import params as model_params
from regio.risk.spillover.affected import Affected, merge
from regio.risk.spillover.enums import Model, models_for
from regio.risk.spillover.errors import InvalidParameter, NoCensusCity, OriginRequired, UnknownOrigin
from regio.risk.spillover.places import Origin, prefecture_of
from regio.risk.spillover.policies import Action
from regio.risk.spillover.schemas import (
    AffectedOut,
    ImportSummary,
    ReachList,
    ReachOut,
    SpilloverIn,
    SpilloverOut,
)

__all__ = ["Affected", "affected_by_hazard", "import_rivers", "list_reaches", "run_model"]

SYSTEM = CORE_SYSTEM


async def _index_or_none(session: AsyncSession, holder: IndexHolder | None) -> GeographyIndex | None:
    if holder is None:
        return None
    try:
        return await geography.current_index(session=session, holder=holder)
    except geography_errors.GeographyNotLoaded:
        return None


async def _network(session: AsyncSession) -> river.RiverNetwork:
    """The shipped network joined with every imported one, rebuilt only when an import changed them."""
    version = await repository.reaches_version(session)
    cached = river.cached_network(version)
    if cached is not None:
        return cached
    rows = await repository.all_reaches(session)
    return river.network_with(version, [repository.as_reach(row) for row in rows])


def _namer(index: GeographyIndex | None) -> river.Namer:
    def name(level: str, adcode: str, fallback: str) -> str:
        if index is not None:
            entry = index.get(Level(level), adcode)
            if entry is not None:
                return entry.name
        return fallback

    return name


def _hazard(
    index: GeographyIndex | None, geometry: Mapping[str, Any] | None, origin: Origin | None
) -> Hazard | None:
    if geometry is not None:
        return parse_geojson(dict(geometry))
    if index is not None and origin is not None:
        return overlap.origin_hazard(index, origin.level, origin.adcode)
    return None


def _source_point(
    hazard: Hazard | None, origin: Origin | None, network: river.RiverNetwork
) -> shapely.Point | None:
    """Where a plume or flood starts: the hazard's centre, else the origin's seat from the shipped data."""
    if hazard is not None and hazard.geometry is not None:
        return (
            hazard.geometry.representative_point()
            if hazard.geometry.geom_type != "Point"
            else hazard.geometry
        )
    if origin is not None:
        seat = epidemic.seat_of(origin.prefecture or "") or network.seat_of(origin.prefecture or "")
        if seat is not None:
            return shapely.Point(seat)
    return None


async def _run(
    model: Model,
    *,
    session: AsyncSession,
    index: GeographyIndex | None,
    origin: Origin | None,
    hazard: Hazard | None,
    level: Level,
    severity_rank: int,
    values: dict[str, Any],
    strict: bool,
    whole_origin: bool = False,
) -> list[Affected]:
    namer = _namer(index)
    if model == Model.overlap:
        if index is None:
            if strict:
                raise geography_errors.GeographyNotLoaded()
            return []
        if hazard is None:
            raise OriginRequired()
        buffer_km = values.get("buffer_km", overlap.DEFAULT_BUFFER_KM.get(severity_rank, 0.0))
        return overlap.run(index, hazard, level=level, buffer_km=buffer_km, whole_origin=whole_origin)
    if model == Model.river:
        network = await _network(session)
        return river.run(
            network,
            origin=origin,
            # the origin's whole boundary is no flood extent: snapping to it would start upstream
            start=hazard.geometry if hazard is not None and not whole_origin else None,
            level=level,
            max_hours=values.get("max_hours", river.DEFAULT_MAX_HOURS.get(severity_rank, 96.0)),
            snap_km=values.get("snap_km", river.DEFAULT_SNAP_KM),
            name=namer,
            strict=strict,
        )
    if model == Model.plume:
        if index is None:
            if strict:
                raise geography_errors.GeographyNotLoaded()
            return []
        network = await _network(session)
        source = _source_point(hazard, origin, network)
        if source is None:
            raise OriginRequired()
        return plume.run(
            index, source=(source.x, source.y), level=level, severity_rank=severity_rank, values=values
        )
    if model == Model.epidemic:
        if origin is None:
            if strict:
                raise OriginRequired()
            return []
        if origin.prefecture is None or epidemic.seat_of(origin.prefecture) is None:
            if strict:
                raise NoCensusCity(adcode=origin.adcode)
            return []
        return epidemic.run(
            origin_prefecture=origin.prefecture,
            level=level,
            severity_rank=severity_rank,
            values=values,
            name=namer,
        )
    raise AssertionError(model)  # pragma: no cover - every model is handled above


async def affected_by_hazard(
    *,
    session: AsyncSession,
    index_holder: IndexHolder | None,
    event_type: str,
    category: str,
    geometry: Mapping[str, Any] | None,
    origin_level: str,
    origin_adcode: str,
    severity_rank: int,
    detected_at: datetime,
    params: Mapping[str, Any] | None = None,
) -> list[Affected]:
    """The other jurisdictions a reported hazard reaches, earliest first, by the models its type needs.

    `params` may carry any model's parameters (see params.NUMBERS) and `level` (the level the
    geometric models answer at; default: the origin's). Models that cannot run (no boundaries
    loaded, no river near) are left out rather than failing the report.
    `category` and `detected_at` are accepted for the journey's sake: the arrival times are hours
    after detection, so callers add them to detected_at.
    """
    given = dict(params or {})
    level = _level(given.pop("level", None) or origin_level, "level")
    origin = Origin(_level(origin_level, "origin_level").value, origin_adcode)
    index = await _index_or_none(session, index_holder)
    hazard = _hazard(index, geometry, origin)
    found: list[Affected] = []
    for model in models_for(event_type):
        values = model_params.check(model, given, strict=False)
        try:
            found += await _run(
                model,
                session=session,
                index=index,
                origin=origin,
                hazard=hazard,
                level=level,
                severity_rank=severity_rank,
                values=values,
                strict=False,
                whole_origin=geometry is None,
            )
        except river.NoRiverNearby:
            continue
    return [item for item in merge(found) if not origin.is_origin(item.level, item.adcode)]


def _level(value: Any, name: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        levels = ", ".join(level.value for level in Level)
        raise InvalidParameter(
            name=name, problem=f"must be one of {levels}", problem_zh=f"须为 {levels} 之一"
        ) from None


def _out(item: Affected) -> AffectedOut:
    return AffectedOut(
        adcode=item.adcode,
        name=item.name,
        level=Level(item.level),
        reason=item.reason,
        reason_zh=item.reason_zh,
        reason_en=item.reason_en,
        eta_hours=None if item.eta_hours is None else round(item.eta_hours, 2),
        confidence=round(item.confidence, 3),
        model=item.model,
    )


async def run_model(
    *, session: AsyncSession, principal: Principal, holder: IndexHolder | None, request: SpilloverIn
) -> SpilloverOut:
    """One model on demand (POST /api/risk/spillover), never listing the origin itself."""
    require(policies.decide(principal, Action.run), action="spillover.run")
    model = Model(request.model)
    values = model_params.check(model, request.model_extra or {}, strict=True)
    if request.origin is None and request.geometry is None:
        raise OriginRequired()
    index = await _index_or_none(session, holder)
    origin: Origin | None = None
    if request.origin is not None:
        origin = _resolve_origin(index, request.origin, request.level)
    hazard = _hazard(index, request.geometry, origin)
    found = await _run(
        model,
        session=session,
        index=index,
        origin=origin,
        hazard=hazard,
        level=request.level,
        severity_rank=request.severity_rank,
        values=values,
        strict=True,
        whole_origin=request.geometry is None,
    )
    merged = merge(found)
    if origin is not None:
        merged = [item for item in merged if not origin.is_origin(item.level, item.adcode)]
    return SpilloverOut(model=model.value, affected=[_out(item) for item in merged])


def _resolve_origin(index: GeographyIndex | None, adcode: str, level: Level) -> Origin:
    """The origin at its own level: the level asked for if it stands there, else its highest one.

    A jurisdiction outside the loaded boundaries is still known when the shipped data knows it
    (as a census city) or its prefecture (then it is a county).
    """
    entries = index.find(adcode) if index is not None else []
    if entries:
        levels = [entry.level for entry in entries]
        own = level if level in levels else levels[0]
        return Origin(own.value, adcode)
    if epidemic.seat_of(adcode) is not None:
        return Origin(Level.prefecture.value, adcode)
    prefecture = prefecture_of(Level.county.value, adcode)
    if not adcode.endswith("00") and prefecture is not None and epidemic.seat_of(prefecture) is not None:
        return Origin(Level.county.value, adcode)
    raise UnknownOrigin(adcode=adcode)


# --- river networks ------------------------------------------------------------------------------


async def import_rivers(
    *,
    session: AsyncSession,
    principal: Principal,
    holder: IndexHolder | None,
    name: str,
    geojson: Any,
    source: str = "",
) -> ImportSummary:
    """Stores (or replaces, by name) a user's river network from GeoJSON LineStrings.

    A reach without an `adcodes` property gets the prefectures its line crosses, in flow order,
    from the loaded boundaries.
    """
    require(policies.decide(principal, Action.import_rivers), action="spillover.rivers.import")
    index = await _index_or_none(session, holder)
    reaches = river.parse_geojson(geojson, network=name, index=index)
    async with transaction(session):
        network_id, replaced = await repository.claim_network(session, name=name, source=source)
        await repository.replace_reaches(session, network_id, reaches)
        await audit.record(
            session,
            principal,
            "spillover.rivers.import",
            object_type="river_network",
            object_id=network_id,
            details={"name": name, "reaches": len(reaches), "replaced": replaced},
        )
    return ImportSummary(name=name, reaches=len(reaches), replaced=replaced)


async def list_reaches(*, session: AsyncSession, principal: Principal) -> ReachList:
    """Every reach of the network the river model follows: shipped and imported."""
    require(policies.decide(principal, Action.read))
    network = await _network(session)
    return ReachList(
        reaches=[
            ReachOut(
                network=reach.network,
                river=reach.river,
                from_node=reach.source,
                to_node=reach.target,
                length_km=reach.length_km,
                travel_hours=reach.travel_hours,
                adcodes=list(reach.adcodes),
            )
            for reach in network.reaches
        ]
    )
