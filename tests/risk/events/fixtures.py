"""Shared by the events and CAP tests: Zhejiang loaded, officers, and a report's JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from regio.app import create_app
from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.events import InProcessBus
from regio.core.outbox import OutboxMessage
from regio.risk.events.models import RiskEvent
from regio.risk.geography import loader
from regio.risk.geography import service as geography_service
from regio.risk.geography.engine import IndexHolder
from tests.factories import make_user, token_headers

SHANGHAI = ZoneInfo("Asia/Shanghai")
# West Lake, Hangzhou, and a polygon around it (CAP order: lat,lon)
WEST_LAKE = (30.245, 120.14)
HANGZHOU_POLYGON = "30.20,120.05 30.20,120.25 30.32,120.25 30.32,120.05 30.20,120.05"
# Hangzhou's Xihu district shares that area; far away: Wenzhou's coast
WENZHOU_POLYGON = "27.90,120.60 27.90,120.80 28.05,120.80 28.05,120.60 27.90,120.60"

Headers = dict[str, str]
MakeOfficer = Callable[..., Awaitable[Headers]]


@pytest.fixture(scope="session")
def zj_ah_bundle() -> loader.GeographyBundle:
    return loader.load_bundle(("33",))


@pytest.fixture
async def geo(db: Database, zj_ah_bundle: loader.GeographyBundle) -> None:
    async with db.session() as session:
        await geography_service.load_geography(
            session=session, principal=geography_service.SYSTEM, bundle=zj_ah_bundle
        )
    async with db.session() as session:
        await geography_service.seed_bodies(session=session, principal=geography_service.SYSTEM)


@pytest.fixture(scope="session")
def shared_index() -> IndexHolder:
    """One in-memory index for the run: every test loads the same boundaries (the holder rebuilds
    it should a test's load id differ)."""
    return IndexHolder()


@pytest.fixture
def app(settings: Settings, db: Database, shared_index: IndexHolder):  # type: ignore[no-untyped-def]
    """The app as built, with the live bus its lifespan would make (the test client runs no lifespan)."""
    made = create_app(settings=settings, database=db)
    made.state.events = InProcessBus()
    made.state.geography_index = shared_index
    return made


@pytest.fixture
def make_headers(db: Database, settings: Settings) -> MakeOfficer:
    async def make(
        role: Role = Role.city_officer, kind: ScopeKind | None = None, scope: str = "330100"
    ) -> Headers:
        if kind is None:
            kind = {
                Role.city_officer: ScopeKind.jurisdiction,
                Role.coordinator: ScopeKind.coordination_body,
            }.get(role, ScopeKind.platform)
        grant = RoleGrant(role, kind, scope if kind != ScopeKind.platform else "")
        user = await make_user(db, roles=[grant])
        return token_headers(settings, user)

    return make


@pytest.fixture
async def hz_officer(geo: None, make_headers: MakeOfficer) -> Headers:
    return await make_headers(Role.city_officer, scope="330100")


def local_iso(hours_ago: float = 1.0) -> str:
    return (datetime.now(SHANGHAI) - timedelta(hours=hours_ago)).replace(microsecond=0).isoformat()


def report_body(**overrides: Any) -> dict[str, Any]:
    """A rainstorm risk (orange, level 2) over West Lake, reported by Hangzhou."""
    body: dict[str, Any] = {
        "category": "natural_disaster",
        "event_type": "rainstorm",
        "kind": "risk",
        "warning_level": 2,
        "certainty": "Likely",
        "urgency": "Expected",
        "origin_level": "prefecture",
        "origin_adcode": "330100",
        "area": {"cap_polygons": [HANGZHOU_POLYGON]},
        "detected_at": local_iso(1),
        "description": "预计未来6小时杭州市区将出现50毫米以上降水。",
    }
    body.update(overrides)
    return body


async def stored_events(db: Database) -> list[RiskEvent]:
    async with db.session() as session:
        return list((await session.execute(select(RiskEvent).order_by(RiskEvent.id))).scalars())


async def outbox_payloads(db: Database, topic: str = "risk.event.changed") -> list[dict[str, Any]]:
    async with db.session() as session:
        rows = await session.execute(
            select(OutboxMessage.payload).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)
        )
        return [dict(payload) for payload in rows.scalars()]


async def audit_actions(db: Database, prefix: str = "risk_event.") -> list[tuple[str, str | None]]:
    async with db.session() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.object_id)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return [(action, object_id) for action, object_id in rows.all()]


async def post_report(client: httpx.AsyncClient, headers: Headers, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/risk/events", json=report_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())
