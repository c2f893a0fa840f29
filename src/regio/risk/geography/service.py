"""Geography services: the only writers (loads, bodies) and the readers the routes call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core import audit
from regio.core.access import SYSTEM as CORE_SYSTEM
from regio.core.access import Principal, require
from regio.core.db import transaction
from regio.risk.geography import errors, loader, policies, repository
from regio.risk.geography.engine import GeographyIndex, IndexHolder, release_freed_memory
from regio.risk.geography.enums import LEVELS, Level, RiskCategory
from regio.risk.geography.hazards import parse as parse_hazard
from regio.risk.geography.policies import Action
from regio.risk.geography.schemas import (
    BodyDetail,
    BodyList,
    BodyMembershipList,
    BodySummary,
    JurisdictionDetail,
    JurisdictionDetailList,
    JurisdictionList,
    JurisdictionRef,
    MatchIn,
    MatchOut,
    MatchResult,
    OfficeOut,
    OfficerList,
    OfficerOut,
)

# The CLI and the demo loader act as the platform itself.
SYSTEM = CORE_SYSTEM

BODIES_FILE = Path(__file__).resolve().parent / "data" / "coordination_bodies.json"
MAX_MAP_FEATURES = 4000

Progress = Callable[[str, int, int], None]


@dataclass
class LoadSummary:
    load_id: int
    inserted: int
    updated: int
    by_level: dict[str, int] = field(default_factory=dict)
    adjacency_pairs: int = 0


# --- loading -------------------------------------------------------------------------------------


def _row(item: loader.JurisdictionData, source: str) -> dict[str, Any]:
    west, south, east, north = item.bounds
    return {
        "level": item.level.value,
        "adcode": item.adcode,
        "name": item.name,
        "parent_adcode": item.parent_adcode,
        "province_adcode": item.province_adcode,
        "label_lon": item.label[0],
        "label_lat": item.label[1],
        "min_lon": west,
        "min_lat": south,
        "max_lon": east,
        "max_lat": north,
        "area_km2": round(item.area_km2, 3),
        "geometry_wkb": shapely.to_wkb(item.geometry),
        "map_coarse": item.map_coarse,
        "map_fine": item.map_fine,
        "source": source,
    }


async def load_geography(
    *,
    session: AsyncSession,
    principal: Principal,
    bundle: loader.GeographyBundle,
    progress: Progress | None = None,
) -> LoadSummary:
    """Stores a bundle's jurisdictions (insert or update by level and adcode) and shared borders."""
    require(policies.decide(principal, Action.load), action="geography.load")
    report = progress or (lambda stage, done, total: None)
    rows = [_row(item, bundle.source) for item in bundle.jurisdictions]
    async with transaction(session):
        existing = await repository.existing_ids(session, [(row["level"], row["adcode"]) for row in rows])
        fresh = [row for row in rows if (row["level"], row["adcode"]) not in existing]
        known = [
            {"id": existing[(row["level"], row["adcode"])], **row}
            for row in rows
            if (row["level"], row["adcode"]) in existing
        ]
        await repository.insert_jurisdictions(session, fresh)
        report("store", len(fresh), len(rows))
        await repository.update_jurisdictions(session, known)
        report("store", len(rows), len(rows))
        for level in LEVELS:
            adcodes = [item.adcode for item in bundle.jurisdictions if item.level == level]
            pairs = [(a, b, km) for pair_level, a, b, km in bundle.adjacency if pair_level == level]
            await repository.replace_adjacency(session, level.value, adcodes, pairs)
        by_level = {
            level.value: sum(1 for item in bundle.jurisdictions if item.level == level) for level in LEVELS
        }
        load = repository.add_load(
            session,
            source=bundle.source,
            provinces=",".join(bundle.provinces),
            jurisdictions=len(rows),
            adjacency_pairs=len(bundle.adjacency),
        )
        await session.flush()
        await audit.record(
            session,
            principal,
            "geography.load",
            object_type="geography_load",
            object_id=load.id,
            details={"provinces": list(bundle.provinces) or "all", "by_level": by_level},
        )
    return LoadSummary(
        load_id=load.id,
        inserted=len(fresh),
        updated=len(known),
        by_level=by_level,
        adjacency_pairs=len(bundle.adjacency),
    )


async def current_index(*, session: AsyncSession, holder: IndexHolder) -> GeographyIndex:
    """The process's in-memory index, rebuilt if a newer load was committed (by any process)."""
    latest = await repository.latest_load_id(session)
    if latest is None:
        raise errors.GeographyNotLoaded()

    async def build() -> GeographyIndex:
        rows = await repository.index_rows(session)
        # parsing and indexing some millions of vertices is CPU work: keep the event loop free
        index = await asyncio.to_thread(GeographyIndex.build, [tuple(row) for row in rows], latest)
        del rows  # some 100 MiB of WKB for all of China, handed back to the system below
        release_freed_memory()
        return index

    return await holder.current(latest, build)


# --- reading jurisdictions -----------------------------------------------------------------------


async def get_jurisdictions(
    *, session: AsyncSession, principal: Principal, adcode: str
) -> JurisdictionDetailList:
    """Every level an adcode stands at (usually one; Dongguan 441900 two)."""
    require(policies.decide(principal, Action.read))
    rows = await repository.jurisdictions_by_adcode(session, adcode)
    if not rows:
        raise errors.UnknownJurisdiction(adcode=adcode)
    rows = sorted(rows, key=lambda row: Level(row.level).rank)
    return JurisdictionDetailList(
        jurisdictions=[
            JurisdictionDetail(
                adcode=row.adcode,
                name=row.name,
                level=Level(row.level),
                parent_adcode=row.parent_adcode,
                province_adcode=row.province_adcode,
                area_km2=row.area_km2,
                label=(row.label_lon, row.label_lat),
                bbox=(row.min_lon, row.min_lat, row.max_lon, row.max_lat),
            )
            for row in rows
        ]
    )


async def neighbors(
    *,
    session: AsyncSession,
    principal: Principal,
    holder: IndexHolder,
    adcode: str,
    level: Level | None = None,
) -> JurisdictionList:
    """Jurisdictions sharing a border with this one: same level by default, or at `level`."""
    require(policies.decide(principal, Action.read))
    rows = await repository.jurisdictions_by_adcode(session, adcode)
    if not rows:
        raise errors.UnknownJurisdiction(adcode=adcode)
    own_levels = sorted((Level(row.level) for row in rows), key=lambda lv: lv.rank)
    wanted = Level(level) if level else own_levels[0]
    if wanted in own_levels:
        found = await repository.neighbors(session, wanted.value, adcode)
        return JurisdictionList(
            jurisdictions=[JurisdictionRef(adcode=r.adcode, name=r.name, level=Level(r.level)) for r in found]
        )
    index = await current_index(session=session, holder=holder)
    found_entries = index.bordering(own_levels[0], adcode, wanted)
    return JurisdictionList(
        jurisdictions=[JurisdictionRef(adcode=e.adcode, name=e.name, level=e.level) for e in found_entries]
    )


async def match(
    *, session: AsyncSession, principal: Principal, holder: IndexHolder, request: MatchIn
) -> MatchResult:
    """Which jurisdictions at a level a hazard touches, or lies within buffer_km of."""
    require(policies.decide(principal, Action.match))
    hazard = parse_hazard(
        geometry=request.geometry,
        circle=request.circle,
        cap_polygon=request.cap_polygon,
        adcodes=request.adcodes,
    )
    index = await current_index(session=session, holder=holder)
    matches = index.match(hazard, level=request.level, buffer_km=request.buffer_km, overlap=request.overlap)
    return MatchResult(
        jurisdictions=[
            MatchOut(
                adcode=m.adcode,
                name=m.name,
                level=Level(m.level),
                distance_km=m.distance_km,
                overlap_fraction=m.overlap_fraction,
            )
            for m in matches
        ]
    )


async def map_layer(
    *,
    session: AsyncSession,
    principal: Principal,
    level: Level,
    fine: bool,
    bbox: tuple[float, float, float, float] | None,
) -> str:
    """A GeoJSON FeatureCollection of simplified boundaries, as text (the geometries are stored as text)."""
    require(policies.decide(principal, Action.read))
    rows = await repository.map_features(
        session, level=level.value, fine=fine, bbox=bbox, limit=MAX_MAP_FEATURES
    )
    features = []
    for adcode, name, row_level, label_lon, label_lat, geometry in rows:
        properties = json.dumps(
            {"adcode": adcode, "name": name, "level": row_level, "label": [label_lon, label_lat]},
            ensure_ascii=False,
        )
        features.append(f'{{"type":"Feature","properties":{properties},"geometry":{geometry}}}')
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


# --- coordination bodies -------------------------------------------------------------------------


def _summary(body: Any, count: int) -> BodySummary:
    return BodySummary(slug=body.slug, name=body.name, name_en=body.name_en, member_count=count)


async def seed_bodies(*, session: AsyncSession, principal: Principal, path: Path = BODIES_FILE) -> int:
    """Creates or refreshes the coordination bodies shipped as data; returns how many."""
    require(policies.decide(principal, Action.manage_bodies), action="coordination_body.seed")
    data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    async with transaction(session):
        for spec in data["bodies"]:
            body = await repository.body_by_slug(session, spec["slug"])
            fields = {key: spec.get(key, "") for key in ("name", "name_en", "description", "source")}
            if body is None:
                body = repository.add_body(session, slug=spec["slug"], **fields)
                await session.flush()
            else:
                for key, value in fields.items():
                    setattr(body, key, value)
            members = [
                {"level": Level(m["level"]).value, "adcode": m["adcode"], "name": m["name"]}
                for m in spec["members"]
            ]
            offices = [
                {
                    "category": RiskCategory(o["category"]).value,
                    "name": o["name"],
                    "name_en": o.get("name_en", ""),
                    "lead_adcode": o.get("lead_adcode"),
                }
                for o in spec.get("offices", [])
            ]
            await repository.replace_members(session, body.id, members)
            await repository.replace_offices(session, body.id, offices)
        await audit.record(
            session,
            principal,
            "coordination_body.seed",
            object_type="coordination_body",
            object_id=None,
            details={"slugs": [spec["slug"] for spec in data["bodies"]]},
        )
    return len(data["bodies"])


async def list_bodies(*, session: AsyncSession, principal: Principal) -> BodyList:
    """Every coordination body with its member count."""
    require(policies.decide(principal, Action.read))
    rows = await repository.list_bodies(session)
    return BodyList(bodies=[_summary(body, count) for body, count in rows])


async def get_body(*, session: AsyncSession, principal: Principal, slug: str) -> BodyDetail:
    """A body with its member jurisdictions and its offices by risk category."""
    require(policies.decide(principal, Action.read))
    body = await repository.body_by_slug(session, slug)
    if body is None:
        raise errors.UnknownCoordinationBody(slug=slug)
    members = await repository.members(session, body.id)
    offices = await repository.offices(session, body.id)
    return BodyDetail(
        slug=body.slug,
        name=body.name,
        name_en=body.name_en,
        description=body.description,
        source=body.source,
        members=[JurisdictionRef(adcode=m.adcode, name=m.name, level=Level(m.level)) for m in members],
        offices=[
            OfficeOut(
                category=RiskCategory(o.category), name=o.name, name_en=o.name_en, lead_adcode=o.lead_adcode
            )
            for o in offices
        ],
    )


async def body_officers(*, session: AsyncSession, principal: Principal, slug: str) -> OfficerList:
    """The people holding roles in a body (personal data: the read is audited)."""
    require(policies.decide(principal, Action.read_officers), action="coordination_body.officers")
    body = await repository.body_by_slug(session, slug)
    if body is None:
        raise errors.UnknownCoordinationBody(slug=slug)
    async with transaction(session):
        rows = await repository.body_officers(session, slug)
        await audit.record(
            session,
            principal,
            "coordination_body.officers.read",
            object_type="coordination_body",
            object_id=slug,
            details={"count": len(rows)},
        )
    return OfficerList(
        officers=[OfficerOut(user_id=user_id, display_name=name, role=role) for user_id, name, role in rows]
    )


async def bodies_of(*, session: AsyncSession, principal: Principal, adcode: str) -> BodyMembershipList:
    """The bodies a jurisdiction belongs to, itself or through the prefecture or province containing it."""
    require(policies.decide(principal, Action.read))
    rows = await repository.jurisdictions_by_adcode(session, adcode)
    keys: set[tuple[str, str]] = {(level.value, adcode) for level in LEVELS}
    if rows:
        for row in rows:
            keys.add((Level.province.value, row.province_adcode))
            if row.level == Level.county.value and row.parent_adcode:
                keys.add((Level.prefecture.value, row.parent_adcode))
    else:
        # boundaries not loaded: GB/T 2260 codes still say which province and prefecture contain it
        keys.add((Level.province.value, adcode[:2] + "0000"))
        keys.add((Level.prefecture.value, adcode[:4] + "00"))
    found = await repository.bodies_with_member(session, sorted(keys))
    return BodyMembershipList(bodies=[_summary(body, count) for body, count in found])


async def warm_index(*, sessionmaker: Callable[[], Any], holder: IndexHolder) -> None:
    """Builds the index at start-up so the first match does not wait; no boundaries loaded is fine."""
    async with sessionmaker() as session:
        try:
            await current_index(session=session, holder=holder)
        except errors.GeographyNotLoaded:
            return
