"""Acknowledgement: only the addressee's officers acknowledge, once; the origin hears of it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from regio.config import Settings
from regio.core.access import Role, RoleGrant
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.errors import DomainError, Forbidden
from regio.core.events import InProcessBus
from regio.risk.events.models import RiskEvent
from regio.risk.warnings import errors, service
from regio.risk.warnings.models import RiskWarning
from tests.factories import make_user, token_headers
from tests.risk.warnings.conftest import (
    HANGZHOU,
    HUZHOU,
    JIAXING,
    WENZHOU,
    coordinator_grant,
    journey,
    make_officer,
    officer_grant,
    reach,
    write_event,
)


async def _warning_to(db: Database, key: str) -> RiskWarning:
    async with db.session() as session:
        return (
            await session.execute(select(RiskWarning).where(RiskWarning.recipient_key == key))
        ).scalar_one()


@pytest.fixture
async def warned(db: Database, settings: Settings, places: None) -> RiskWarning:
    event = await write_event(db, origin=HANGZHOU)
    await journey(db, settings, event, reach(HUZHOU, JIAXING))
    return await _warning_to(db, f"prefecture:{HUZHOU}")


async def test_huzhous_officer_acknowledges_and_hangzhous_dashboard_is_told_at_once(
    db: Database, settings: Settings, warned: RiskWarning
) -> None:
    huzhou = await make_officer(db, officer_grant(HUZHOU))
    bus = InProcessBus()
    async with bus.subscribe(f"risk:jurisdiction:prefecture:{HANGZHOU}") as origin:
        async with db.session() as session:
            answer = await service.acknowledge(
                session=session, bus=bus, principal=huzhou.principal, warning_id=warned.id
            )
        told = await asyncio.wait_for(origin.get(), timeout=2)
    assert answer.acknowledged_at is not None and answer.acknowledged_by_name == huzhou.user.display_name
    assert told["kind"] == "acknowledged" and told["warning_id"] == warned.id
    assert told["payload"]["acknowledged_by_name"] == huzhou.user.display_name
    async with db.session() as session:
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "risk.warning.acknowledged"))
        ).scalar_one()
    assert entry.actor_user_id == huzhou.user.id and entry.object_id == str(warned.id)
    assert "acknowledged_at" in entry.details and entry.details["seconds_after_sent"] >= 0


async def test_a_second_acknowledgement_is_refused_naming_the_first(
    client: httpx.AsyncClient, db: Database, settings: Settings, warned: RiskWarning
) -> None:
    huzhou = await make_officer(db, officer_grant(HUZHOU))
    headers = token_headers(settings, huzhou.user)
    first = await client.post(f"/api/risk/warnings/{warned.id}/acknowledge", headers=headers)
    assert first.status_code == 200, first.text
    second = await client.post(f"/api/risk/warnings/{warned.id}/acknowledge", headers=headers)
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "already_acknowledged"
    assert error["details"]["acknowledged_by"] == huzhou.user.display_name
    assert "已由" in error["message_zh"] and "already acknowledged" in error["message_en"]


async def test_two_officers_acknowledging_at_once_make_exactly_one_acknowledgement(
    db: Database, settings: Settings, warned: RiskWarning
) -> None:
    officers = [await make_officer(db, officer_grant(HUZHOU)) for _ in range(6)]

    async def ack(officer):  # type: ignore[no-untyped-def]
        async with db.session() as session:
            return await service.acknowledge(
                session=session, bus=None, principal=officer.principal, warning_id=warned.id
            )

    results = await asyncio.gather(*(ack(o) for o in officers), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, errors.AlreadyAcknowledged) for r in results if isinstance(r, BaseException))
    stored = await _warning_to(db, f"prefecture:{HUZHOU}")
    assert stored.acknowledged_by_name == winners[0].acknowledged_by_name
    async with db.session() as session:
        acks = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "risk.warning.acknowledged"))
        ).all()
    assert len(acks) == 1


# Who may acknowledge Huzhou's warning: Huzhou's officers, no one else.
MATRIX = [
    ("huzhou officer", officer_grant(HUZHOU), 200),
    ("wenzhou officer", officer_grant(WENZHOU), 403),
    ("hangzhou officer (the origin)", officer_grant(HANGZHOU), 403),
    ("jiaxing officer (also warned)", officer_grant(JIAXING), 403),
    ("coordinator of the body", coordinator_grant("yangtze-river-delta"), 403),
    ("platform admin", RoleGrant(Role.platform_admin), 403),
    ("regulator", RoleGrant(Role.regulator), 403),
    ("patient", RoleGrant(Role.patient), 403),
]


@pytest.mark.parametrize(("who", "grant", "status"), MATRIX, ids=[row[0] for row in MATRIX])
async def test_access_matrix_for_acknowledging_huzhous_warning(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    warned: RiskWarning,
    who: str,
    grant: RoleGrant,
    status: int,
) -> None:
    user = await make_user(db, roles=[grant])
    response = await client.post(
        f"/api/risk/warnings/{warned.id}/acknowledge", headers=token_headers(settings, user)
    )
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"
        assert (await _warning_to(db, f"prefecture:{HUZHOU}")).acknowledged_at is None


async def test_anonymous_acknowledgement_is_refused_and_an_unknown_warning_is_404(
    client: httpx.AsyncClient, db: Database, settings: Settings, warned: RiskWarning
) -> None:
    assert (await client.post(f"/api/risk/warnings/{warned.id}/acknowledge")).status_code == 401
    huzhou = await make_officer(db, officer_grant(HUZHOU))
    missing = await client.post(
        "/api/risk/warnings/999999/acknowledge", headers=token_headers(settings, huzhou.user)
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "warning_not_found"
    bad = await client.post("/api/risk/warnings/0/acknowledge", headers=token_headers(settings, huzhou.user))
    assert bad.status_code == 422


async def test_the_body_acknowledges_its_own_warning(db: Database, warned: RiskWarning) -> None:
    body_warning = await _warning_to(db, "body:yangtze-river-delta")
    coordinator = await make_officer(db, coordinator_grant("yangtze-river-delta"))
    async with db.session() as session:
        answer = await service.acknowledge(
            session=session, bus=None, principal=coordinator.principal, warning_id=body_warning.id
        )
    assert answer.acknowledged_at is not None


async def test_a_cancelled_warning_cannot_be_acknowledged(
    db: Database, settings: Settings, warned: RiskWarning
) -> None:
    async with db.session() as session:
        first = await session.get(RiskEvent, warned.event_id)
    assert first is not None
    cancel = await write_event(db, replaces=first, status="cancelled")
    await journey(db, settings, cancel, [])
    huzhou = await make_officer(db, officer_grant(HUZHOU))
    with pytest.raises(DomainError) as refused:
        async with db.session() as session:
            await service.acknowledge(
                session=session, bus=None, principal=huzhou.principal, warning_id=warned.id
            )
    assert refused.value.code == "warning_not_active" and not isinstance(refused.value, Forbidden)
