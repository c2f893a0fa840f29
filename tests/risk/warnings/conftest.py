"""Fixtures for warnings tests: a few Zhejiang cities by name, the coordination bodies, officers,
risk reports written straight into the events table, and the journey run with a chosen reach.

Boundaries are not loaded (that takes seconds per test): the spill-over answer is given, so each
test says exactly which jurisdictions the hazard reaches.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import shapely
from sqlalchemy import func, select, update

from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database, utcnow
from regio.core.events import EventBus, InProcessBus
from regio.core.identity.models import User
from regio.risk.events.models import RiskEvent
from regio.risk.geography import service as geography_service
from regio.risk.geography.models import Jurisdiction
from regio.risk.warnings import service
from regio.risk.warnings.service import Reach
from tests.factories import make_user, principal_for

# (level, adcode, name, parent)
PLACES = (
    ("province", "330000", "浙江省", None),
    ("prefecture", "330100", "杭州市", "330000"),
    ("prefecture", "330300", "温州市", "330000"),
    ("prefecture", "330400", "嘉兴市", "330000"),
    ("prefecture", "330500", "湖州市", "330000"),
    ("prefecture", "330600", "绍兴市", "330000"),
)
HANGZHOU, WENZHOU, JIAXING, HUZHOU, SHAOXING = "330100", "330300", "330400", "330500", "330600"
NAMES = {adcode: name for _, adcode, name, _ in PLACES}

_serial = itertools.count(1)


def officer_grant(adcode: str) -> RoleGrant:
    return RoleGrant(Role.city_officer, ScopeKind.jurisdiction, adcode)


def coordinator_grant(slug: str) -> RoleGrant:
    return RoleGrant(Role.coordinator, ScopeKind.coordination_body, slug)


@dataclass
class Officer:
    user: User
    principal: Principal


async def make_officer(db: Database, grant: RoleGrant) -> Officer:
    user = await make_user(db, roles=[grant], display_name=f"值班员{next(_serial)}")
    return Officer(user=user, principal=principal_for(user, [grant]))


@pytest.fixture
async def places(db: Database) -> None:
    """Names of a few Zhejiang jurisdictions and the shipped coordination bodies."""
    box = shapely.box(120.0, 30.0, 120.1, 30.1)
    square = shapely.to_wkb(box)
    outline = json.dumps(shapely.geometry.mapping(box))
    async with db.session() as session, session.begin():
        for level, adcode, name, parent in PLACES:
            session.add(
                Jurisdiction(
                    level=level,
                    adcode=adcode,
                    name=name,
                    parent_adcode=parent,
                    province_adcode="330000",
                    label_lon=120.05,
                    label_lat=30.05,
                    min_lon=120.0,
                    min_lat=30.0,
                    max_lon=120.1,
                    max_lat=30.1,
                    area_km2=100.0,
                    geometry_wkb=square,
                    map_coarse=outline,
                    map_fine=outline,
                    source="test",
                )
            )
    async with db.session() as session:
        await geography_service.seed_bodies(session=session, principal=geography_service.SYSTEM)


def reach(*adcodes: str, level: str = "prefecture") -> list[Reach]:
    return [
        Reach(
            adcode=a,
            name=NAMES[a],
            level=level,
            reason="overlap.buffer",
            eta_hours=2.0,
            confidence=0.8,
            model="overlap",
        )
        for a in adcodes
    ]


async def write_event(
    db: Database,
    *,
    origin: str = HANGZHOU,
    kind: str = "risk",
    level: int = 3,
    headline: str = "钱塘江上游暴雨洪水风险",
    replaces: RiskEvent | None = None,
    status: str = "active",
    event_type: str = "flood",
) -> RiskEvent:
    """A report (or, with `replaces`, its next version) as the events subdomain stores it."""
    now = utcnow()
    async with db.session() as session, session.begin():
        if replaces is not None:
            await session.execute(
                update(RiskEvent).where(RiskEvent.id == replaces.id).values(status="superseded")
            )
        event = RiskEvent(
            identifier=f"regio-{origin}-{uuid.uuid4().hex}",
            sender=f"regio@{origin}.test",
            version=1 if replaces is None else replaces.version + 1,
            references_id=None if replaces is None else replaces.id,
            root_id=None if replaces is None else replaces.root_id,
            msg_type="alert" if replaces is None else ("cancel" if status == "cancelled" else "update"),
            status=status,
            category="natural_disaster",
            event_type=event_type,
            kind=kind,
            warning_level=level if kind == "risk" else None,
            grade=level if kind == "event" else None,
            severity={1: "Extreme", 2: "Severe", 3: "Moderate", 4: "Minor"}[level],
            certainty="Likely",
            urgency="Expected",
            scope="restricted",
            origin_level="prefecture",
            origin_adcode=origin,
            geometry={"type": "Point", "coordinates": [120.1, 30.3]},
            area={},
            detected_at=now,
            reported_at=now,
            headline=headline,
            source="api",
        )
        session.add(event)
        await session.flush()
        if event.root_id is None:
            event.root_id = event.id
    return event


async def journey(
    db: Database,
    settings: Settings,
    event: RiskEvent,
    affected: list[Reach],
    *,
    bus: EventBus | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The journey for one version, run like the route runs it, with the reach given."""

    async def spill(session: Any, _event: RiskEvent) -> list[Reach]:
        return affected

    async with db.session() as session:
        return await service.journey_for_event(
            session=session, bus=bus, settings=settings, event_id=event.id, spill=spill, now=now
        )


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture(autouse=True)
def fresh_place_cache() -> None:
    """Each test's database has its own places: no names or memberships carried over."""
    service.forget_places()
