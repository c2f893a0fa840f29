"""The loader reads every division of China, keys them by level and adcode, and loads idempotently."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.risk.geography import loader
from regio.risk.geography.models import GeographyLoad, Jurisdiction, JurisdictionAdjacency

from .conftest import store


def test_the_source_lists_every_province_prefecture_and_county_of_china() -> None:
    counts = Counter(record.level.value for record in loader.read_index())
    assert counts == {"province": 34, "prefecture": 370, "county": 2875}


def test_dongguan_stands_at_two_levels_and_is_its_own_countys_parent() -> None:
    records = {(r.level.value, r.adcode): r for r in loader.read_index(["44"])}
    assert records[("prefecture", "441900")].name == "东莞市"
    assert records[("county", "441900")].parent_adcode == "441900"
    assert records[("prefecture", "441900")].parent_adcode == "440000"


def test_parents_follow_the_hierarchy_even_for_province_administered_counties() -> None:
    records = {(r.level.value, r.adcode): r for r in loader.read_index(["33", "42"])}
    assert records[("county", "330106")].parent_adcode == "330100"  # 西湖区 in 杭州市
    assert records[("county", "429004")].parent_adcode == "429004"  # 仙桃市 directly under Hubei
    assert records[("province", "330000")].parent_adcode is None


async def test_loading_twice_updates_in_place_and_keeps_one_row_per_level_and_adcode(
    db: Database, yrd_bundle
) -> None:
    first = await store(db, yrd_bundle)
    second = await store(db, yrd_bundle)
    assert first.inserted == 350 and first.updated == 0
    assert second.inserted == 0 and second.updated == 350
    async with db.session() as session:
        rows = await session.scalar(select(func.count()).select_from(Jurisdiction))
        keys = await session.scalar(
            select(func.count()).select_from(
                select(Jurisdiction.level, Jurisdiction.adcode).distinct().subquery()
            )
        )
        borders = await session.scalar(select(func.count()).select_from(JurisdictionAdjacency))
        loads = await session.scalar(select(func.count()).select_from(GeographyLoad))
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "geography.load")
        )
    assert rows == keys == 350
    assert borders == 2 * len(yrd_bundle.adjacency)
    assert loads == 2 and audited == 2


async def test_stored_boundaries_are_wgs84_with_map_simplifications_and_areas(db: Database, loaded) -> None:
    async with db.session() as session:
        hangzhou = await session.scalar(
            select(Jurisdiction).where(Jurisdiction.level == "prefecture", Jurisdiction.adcode == "330100")
        )
    assert hangzhou is not None
    assert hangzhou.name == "杭州市" and hangzhou.province_adcode == "330000"
    # 16,850 km² by official statistics; the boundary gives the same to within a few per cent
    assert 16_000 < hangzhou.area_km2 < 17_700
    assert 118.3 < hangzhou.min_lon < hangzhou.label_lon < hangzhou.max_lon < 120.8
    assert hangzhou.map_coarse.startswith('{"type":') and len(hangzhou.map_coarse) < len(hangzhou.map_fine)
    assert "WGS-84" in hangzhou.source
