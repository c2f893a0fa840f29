"""affected_by_hazard: the models that fit each event type, merged, fast, and never the origin."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from regio.core.db import Database
from regio.risk.geography.engine import IndexHolder
from regio.risk.spillover import service
from regio.risk.spillover.affected import Affected, merge

DETECTED = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
YICHANG_POINT = {"type": "Point", "coordinates": [111.29, 30.70]}
WUHAN_POINT = {"type": "Point", "coordinates": [114.30, 30.59]}


async def affected(
    db: Database,
    holder: IndexHolder | None,
    event_type: str,
    origin: str,
    geometry: dict[str, Any] | None,
    *,
    level: str = "prefecture",
    severity: int = 2,
    params: dict[str, Any] | None = None,
) -> list[Affected]:
    async with db.session() as session:
        return await service.affected_by_hazard(
            session=session,
            index_holder=holder,
            event_type=event_type,
            category="natural_disaster",
            geometry=geometry,
            origin_level=level,
            origin_adcode=origin,
            severity_rank=severity,
            detected_at=DETECTED,
            params=params,
        )


def by_code(found: list[Affected]) -> dict[str, Affected]:
    return {item.adcode: item for item in found}


async def test_a_flood_report_at_yichang_warns_downstream_in_order_and_not_upstream(
    db: Database, loaded, holder: IndexHolder
) -> None:
    found = await affected(db, holder, "flood", "420500", YICHANG_POINT)
    codes = [item.adcode for item in found]
    assert codes.index("421000") < codes.index("430600") < codes.index("420100")
    assert "500000" not in codes and "420500" not in codes
    etas = [item.eta_hours for item in found if item.eta_hours is not None]
    assert etas == sorted(etas)  # earliest first
    assert {item.model for item in found} >= {"river"}


async def test_a_grave_flood_also_warns_the_neighbours_within_the_buffer(
    db: Database, loaded, holder: IndexHolder
) -> None:
    grave = by_code(await affected(db, holder, "flood", "420500", None, severity=1))
    # Enshi borders Yichang: in the 20 km ring though the river does not flow there
    assert grave["422800"].model == "overlap" and grave["422800"].reason == "overlap.border"
    assert grave["422800"].eta_hours is None
    # Jingzhou is both downstream and a neighbour: the river's arrival time is kept
    assert grave["421000"].model == "river" and grave["421000"].eta_hours is not None
    assert "420500" not in grave


async def test_a_chemical_leak_follows_the_wind_and_the_origin_is_never_listed(
    db: Database, loaded, holder: IndexHolder
) -> None:
    east = by_code(
        await affected(
            db,
            holder,
            "chemical_leak",
            "420100",
            WUHAN_POINT,
            params={"wind_speed_ms": 3.0, "wind_from_deg": 270.0, "source_g_s": 5000.0},
        )
    )
    assert "420700" in east and east["420700"].model == "plume"  # Ezhou, downwind
    assert "420900" not in east  # Xiaogan, upwind
    assert "420100" not in east


async def test_a_county_level_report_answers_at_county_level_without_its_own_county(
    db: Database, loaded, holder: IndexHolder
) -> None:
    found = await affected(
        db,
        holder,
        "explosion",
        "420102",  # 江岸区, Wuhan
        {"type": "Point", "coordinates": [114.31, 30.60]},
        level="county",
        params={"wind_speed_ms": 4.0, "wind_from_deg": 225.0, "source_g_s": 2000.0},
    )
    assert found and all(item.level == "county" for item in found)
    assert "420102" not in by_code(found)
    assert all(item.model in {"plume", "overlap"} for item in found)


async def test_an_epidemic_in_wuhan_reaches_xiaogan_and_huanggang_within_days(
    db: Database, loaded, holder: IndexHolder
) -> None:
    found = by_code(await affected(db, holder, "epidemic", "420100", WUHAN_POINT))
    assert found["420900"].model == "epidemic" and (found["420900"].eta_hours or 0) <= 7 * 24
    assert "421100" in found and "420100" not in found


async def test_other_event_types_run_overlap_alone(db: Database, loaded, holder: IndexHolder) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[114.0, 30.3], [114.9, 30.3], [114.9, 30.9], [114.0, 30.9], [114.0, 30.3]]],
    }
    found = await affected(db, holder, "earthquake", "420100", square, severity=4)
    assert found and {item.model for item in found} == {"overlap"}
    assert all(item.eta_hours == 0.0 and item.reason == "overlap.inside" for item in found)
    assert "420700" in by_code(found) and "420100" not in by_code(found)


async def test_without_boundaries_the_river_and_epidemic_models_still_answer(db: Database) -> None:
    flood = by_code(await affected(db, IndexHolder(), "flood", "420500", YICHANG_POINT))
    assert "420100" in flood and flood["420100"].name == "武汉市"
    leak = await affected(db, IndexHolder(), "chemical_leak", "420100", WUHAN_POINT)
    assert leak == []  # the plume needs boundaries; the report is not failed for it


async def test_a_flood_far_from_every_river_has_only_its_overlap(db: Database, loaded, holder) -> None:
    # Shennongjia's forests: no reach of the network crosses it or starts within 15 km
    found = await affected(db, holder, "flood", "429021", {"type": "Point", "coordinates": [110.4, 31.6]})
    assert all(item.model == "overlap" for item in found)


async def test_typical_reports_are_answered_well_under_200_ms(
    db: Database, loaded, holder: IndexHolder
) -> None:
    cases = [
        ("flood", "420500", YICHANG_POINT, None),
        ("chemical_leak", "420100", WUHAN_POINT, {"wind_speed_ms": 3.0, "wind_from_deg": 270.0}),
        ("epidemic", "420100", WUHAN_POINT, None),
        ("earthquake", "420100", WUHAN_POINT, None),
    ]
    for event_type, origin, geometry, params in cases:  # warm the index and caches
        await affected(db, holder, event_type, origin, geometry, params=params)
    for event_type, origin, geometry, params in cases:
        started = time.perf_counter()
        await affected(db, holder, event_type, origin, geometry, params=params)
        elapsed = time.perf_counter() - started
        assert elapsed < 0.2, (event_type, elapsed)


def make(adcode: str, eta: float | None, confidence: float, model: str) -> Affected:
    return Affected(adcode, adcode, "prefecture", f"{model}.x", eta, confidence, model)


def test_merging_keeps_the_earliest_arrival_and_the_highest_confidence() -> None:
    merged = merge(
        [
            make("421000", None, 0.8, "overlap"),
            make("421000", 18.5, 0.6, "river"),
            make("420100", 98.0, 0.7, "river"),
            make("420100", 72.0, 0.4, "epidemic"),
        ]
    )
    assert [(m.adcode, m.eta_hours, m.confidence, m.model) for m in merged] == [
        ("421000", 18.5, 0.8, "river"),
        ("420100", 72.0, 0.7, "epidemic"),
    ]


async def test_a_report_without_a_geometry_floods_from_its_own_nodes_not_its_neighbours(
    db: Database, loaded, holder: IndexHolder
) -> None:
    # Wuhan's boundary runs within 15 km of the Han at Hanchuan (Xiaogan), upstream: not a start
    found = by_code(await affected(db, holder, "flood", "420100", None, severity=4))
    assert "420900" not in found or found["420900"].model == "overlap"
    assert found["420700"].model == "river" and (found["420700"].eta_hours or 0) > 0
