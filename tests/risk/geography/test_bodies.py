"""Coordination bodies: members, offices by risk category, officers from role grants, memberships."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.risk.geography import service
from tests.factories import make_user, token_headers

HZ_OFFICER = RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100")


async def test_the_shipped_bodies_include_the_yangtze_river_delta_with_its_four_provinces(
    client: httpx.AsyncClient, db: Database, settings: Settings, loaded
) -> None:
    headers = token_headers(settings, await make_user(db, roles=[HZ_OFFICER]))
    listing = await client.get("/api/risk/coordination-bodies", headers=headers)
    slugs = {body["slug"] for body in listing.json()["bodies"]}
    assert {"yangtze-river-delta", "beijing-tianjin-hebei", "greater-bay-area"} <= slugs
    yrd = (await client.get("/api/risk/coordination-bodies/yangtze-river-delta", headers=headers)).json()
    assert [(m["adcode"], m["name"], m["level"]) for m in yrd["members"]] == [
        ("310000", "上海市", "province"),
        ("320000", "江苏省", "province"),
        ("330000", "浙江省", "province"),
        ("340000", "安徽省", "province"),
    ]
    assert {office["category"] for office in yrd["offices"]} == {
        "natural_disaster",
        "public_health",
        "accident",
        "social_security",
    }
    gba = (await client.get("/api/risk/coordination-bodies/greater-bay-area", headers=headers)).json()
    assert {m["name"] for m in gba["members"]} >= {
        "广州市",
        "深圳市",
        "东莞市",
        "香港特别行政区",
        "澳门特别行政区",
    }
    missing = await client.get("/api/risk/coordination-bodies/nowhere", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_coordination_body"


async def test_a_jurisdiction_may_belong_to_several_bodies_directly_or_through_its_province(
    client: httpx.AsyncClient, db: Database, settings: Settings, loaded
) -> None:
    headers = token_headers(settings, await make_user(db, roles=[HZ_OFFICER]))
    huangshan = await client.get("/api/risk/jurisdictions/341000/bodies", headers=headers)
    assert {b["slug"] for b in huangshan.json()["bodies"]} == {"yangtze-river-delta", "hangzhou-metropolitan"}
    xihu = await client.get("/api/risk/jurisdictions/330106/bodies", headers=headers)
    assert {b["slug"] for b in xihu.json()["bodies"]} == {"yangtze-river-delta", "hangzhou-metropolitan"}
    nanjing = await client.get("/api/risk/jurisdictions/320100/bodies", headers=headers)
    assert {b["slug"] for b in nanjing.json()["bodies"]} == {"yangtze-river-delta"}


async def test_officers_are_the_people_granted_roles_in_the_body_and_reading_them_is_audited(
    client: httpx.AsyncClient, db: Database, settings: Settings, loaded
) -> None:
    officer = await make_user(
        db, roles=[RoleGrant(Role.coordinator, ScopeKind.coordination_body, "yangtze-river-delta")]
    )
    await make_user(db, roles=[RoleGrant(Role.coordinator, ScopeKind.coordination_body, "greater-bay-area")])
    reader = await make_user(db, roles=[RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100")])
    response = await client.get(
        "/api/risk/coordination-bodies/yangtze-river-delta/officers", headers=token_headers(settings, reader)
    )
    assert response.status_code == 200
    assert response.json()["officers"] == [
        {"user_id": officer.id, "display_name": officer.display_name, "role": "coordinator"}
    ]
    async with db.session() as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "coordination_body.officers.read")
            )
        ).all()
    assert [(e.actor_user_id, e.object_id) for e in entries] == [(reader.id, "yangtze-river-delta")]


async def test_a_patient_may_read_bodies_but_not_their_officers(
    client: httpx.AsyncClient, db: Database, settings: Settings, loaded
) -> None:
    headers = token_headers(settings, await make_user(db, roles=[Role.patient]))
    assert (await client.get("/api/risk/coordination-bodies", headers=headers)).status_code == 200
    refused = await client.get("/api/risk/coordination-bodies/yangtze-river-delta/officers", headers=headers)
    assert refused.status_code == 403


async def test_seeding_bodies_again_keeps_one_of_each(db: Database, loaded) -> None:
    async with db.session() as session:
        await service.seed_bodies(session=session, principal=service.SYSTEM)
    async with db.session() as session:
        reader = Principal(user_id=1, username="reader", grants=frozenset({HZ_OFFICER}))
        bodies = await service.list_bodies(session=session, principal=reader)
    counts = {b.slug: b.member_count for b in bodies.bodies}
    assert counts["yangtze-river-delta"] == 4 and counts["greater-bay-area"] == 11 and len(counts) == 4
