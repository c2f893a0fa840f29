"""Users' river networks: imported from GeoJSON, joined to the shipped one, replaced by name, raced safely."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from regio.cli import app as cli_app
from regio.config import Settings, get_settings
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.errors import Forbidden
from regio.risk.geography.engine import IndexHolder
from regio.risk.spillover import river, service
from regio.risk.spillover.errors import InvalidRiverNetwork
from regio.risk.spillover.models import RiverNetwork, RiverReach
from tests.factories import make_user, principal_for

# The Fu River (府河) rises in Suizhou and meets the Yangtze at Wuhan, through Anlu and Xiaogan.
FU_RIVER = [[113.37, 31.72], [113.68, 31.26], [113.75, 31.02], [113.92, 30.93], [114.30, 30.65]]


def network(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def line(coordinates: list[list[float]], **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coordinates},
        "properties": properties,
    }


FU = network(line(FU_RIVER, **{"from": "suizhou", "to": "wuhan", "name": "府河", "speed_kmh": 5}))


async def import_(db: Database, data: Any, name: str = "hubei-fu", holder: IndexHolder | None = None) -> Any:
    async with db.session() as session:
        return await service.import_rivers(
            session=session, principal=service.SYSTEM, holder=holder or IndexHolder(), name=name, geojson=data
        )


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def flood_at(db: Database, adcode: str) -> list[str]:
    async with db.session() as session:
        found = await service.affected_by_hazard(
            session=session,
            index_holder=None,
            event_type="flood",
            category="natural_disaster",
            geometry=None,
            origin_level="prefecture",
            origin_adcode=adcode,
            severity_rank=1,
            detected_at=river_time(),
        )
    return [item.adcode for item in found]


def river_time() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 7, 1, tzinfo=UTC)


async def test_an_imported_tributary_crosses_the_prefectures_on_its_way_and_joins_the_yangtze(
    db: Database, loaded
) -> None:
    assert await flood_at(db, "421300") == []  # Suizhou is on no shipped river
    summary = await import_(db, FU)
    assert summary.reaches == 1 and not summary.replaced
    async with db.session() as session:
        reach = await session.scalar(select(RiverReach))
    assert reach is not None and reach.adcodes == "421300,420900,420100"  # Suizhou, Xiaogan, Wuhan
    assert 120 < reach.length_km < 160 and reach.travel_hours == pytest.approx(reach.length_km / 5, rel=1e-3)
    downstream = await flood_at(db, "421300")
    assert downstream[:2] == ["420900", "420100"]
    assert downstream.index("420100") < downstream.index("420700") < downstream.index("360400")
    assert "421000" not in downstream  # Jingzhou is up the Yangtze from Wuhan


async def test_reimporting_a_name_replaces_its_reaches_and_is_audited(db: Database) -> None:
    await import_(db, FU)
    two = network(
        line(
            FU_RIVER[:3],
            **{
                "from": "suizhou",
                "to": "anlu",
                "name": "府河",
                "travel_hours": 10,
                "adcodes": ["421300", "420900"],
            },
        ),
        line(
            FU_RIVER[2:],
            **{
                "from": "anlu",
                "to": "wuhan",
                "name": "府河",
                "travel_hours": 12,
                "adcodes": ["420900", "420100"],
            },
        ),
    )
    summary = await import_(db, two)
    assert summary.replaced and summary.reaches == 2
    assert await count(db, RiverNetwork) == 1 and await count(db, RiverReach) == 2
    async with db.session() as session:
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "spillover.rivers.import")
        )
    assert audited == 2


async def test_two_imports_of_one_name_at_once_leave_one_whole_network(db: Database) -> None:
    one = FU
    other = network(
        *[
            line(
                FU_RIVER[i : i + 2], **{"from": f"n{i}", "to": f"n{i + 1}", "name": "府河", "travel_hours": 5}
            )
            for i in range(4)
        ]
    )
    results = await asyncio.gather(*(import_(db, data) for data in (one, other, one, other)))
    assert sorted(r.replaced for r in results) == [False, True, True, True]
    assert await count(db, RiverNetwork) == 1
    async with db.session() as session:
        network_row = await session.scalar(select(RiverNetwork))
        reaches = await session.scalar(select(func.count()).select_from(RiverReach))
    assert network_row is not None and network_row.revision == 4
    assert reaches == network_row.reach_count and reaches in (1, 4)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "Feature"},
        network(),
        network(line([[113.0, 31.0]], **{"from": "a", "to": "b", "name": "x", "travel_hours": 1})),
        network(line(FU_RIVER, **{"from": "a", "to": "a", "name": "x", "travel_hours": 1})),
        network(line(FU_RIVER, **{"from": "a", "to": "b", "name": "x"})),
        network(line(FU_RIVER, **{"from": "a", "to": "b", "name": "x", "speed_kmh": 0})),
        network(
            line([[113.0, 31.0], [200.0, 31.0]], **{"from": "a", "to": "b", "name": "x", "travel_hours": 1})
        ),
        network(line(FU_RIVER, **{"from": "a", "to": "b", "travel_hours": 1})),
        network(
            line(FU_RIVER, **{"from": "a", "to": "b", "name": "x", "travel_hours": 1, "adcodes": ["42"]})
        ),
    ],
)
async def test_a_bad_file_is_refused_and_nothing_is_written(db: Database, data: Any) -> None:
    good_then_bad = data
    if isinstance(data, dict) and isinstance(data.get("features"), list) and data["features"]:
        good_then_bad = network(FU["features"][0], *data["features"])
    with pytest.raises(InvalidRiverNetwork):
        await import_(db, good_then_bad)
    assert await count(db, RiverNetwork) == 0 and await count(db, RiverReach) == 0


async def test_only_the_platform_imports_river_networks(db: Database) -> None:
    officer = await make_user(db)
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.import_rivers(
                session=session,
                principal=principal_for(officer),
                holder=None,
                name="x",
                geojson=FU,
            )


def test_the_shipped_network_is_answered_from_memory_until_an_import_changes_it() -> None:
    assert river.cached_network((0, 0, "")) is river.shipped()
    version = (1, 7, "2026-11-30T08:00:00+00:00")
    imported = river.network_with(version, river.parse_geojson(FU, network="n", index=None))
    assert river.cached_network(version) is imported
    assert river.cached_network((1, 8, version[2])) is None
    assert "suizhou" in imported.nodes and "suizhou" not in river.shipped().nodes


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGIO_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REGIO_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_the_cli_imports_a_geojson_file_and_reports_bad_ones(
    db: Database, cli_env: None, tmp_path: Path
) -> None:
    path = tmp_path / "fu.geojson"
    path.write_text(json.dumps(FU, ensure_ascii=False), encoding="utf-8")
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["risk", "rivers", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported river network 'fu': 1 reaches" in result.stdout
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["risk", "rivers", "import", str(bad)])
    assert result.exit_code == 2 and "invalid_river_network" in result.stderr
    assert await count(db, RiverNetwork) == 1
