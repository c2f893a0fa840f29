"""Spill-over: how long `affected_by_hazard` takes for typical reports, against a plain match.

A report must reach every affected city's screen within about a second, so the spill-over step
has a budget of well under 200 ms. Four typical reports are answered one at a time by
`affected_by_hazard` exactly as the warnings journey calls it (a database session for the river
network's version, the in-memory geography index, every model the event type needs, the merge):
a flood at Yichang (river + overlap), a chemical leak in Wuhan with a measured wind (plume +
overlap), an epidemic in Wuhan (60-day metapopulation SEIR over 341 cities + overlap) and an
earthquake polygon (overlap); the epidemic's projection cache is emptied before each run, so every
run is a first report. The baseline, measured in the same run and the same order, is the
least any warning needs: matching the same hazard against the prefectures (GeographyIndex.match).
Figures: median and 95th percentile per report, and the ratio of medians to the baseline.

    .venv/bin/python benchmarks/spillover_models.py            # Hubei, Hunan, Jiangxi, Anhui: 200 runs per report
    .venv/bin/python benchmarks/spillover_models.py --quick    # Hubei only, 20 runs, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

import regio.all_models  # noqa: F401  (every table, for the scratch schema)
from regio.core.db import Base, Database
from regio.risk.geography import loader
from regio.risk.geography.engine import GeographyIndex, IndexHolder
from regio.risk.geography.enums import Level
from regio.risk.geography.hazards import from_geojson
from regio.risk.geography.models import GeographyLoad
from regio.risk.spillover import epidemic, service

BUDGET_MS = 200.0
WUHAN = {"type": "Point", "coordinates": [114.30, 30.59]}
REPORTS: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]] = [
    ("flood", "420500", {"type": "Point", "coordinates": [111.29, 30.70]}, None),
    ("chemical_leak", "420100", WUHAN, {"wind_speed_ms": 3.0, "wind_from_deg": 270.0, "source_g_s": 5000.0}),
    ("epidemic", "420100", WUHAN, None),
    (
        "earthquake",
        "420100",
        {
            "type": "Polygon",
            "coordinates": [[[114.0, 30.3], [114.9, 30.3], [114.9, 30.9], [114.0, 30.9], [114.0, 30.3]]],
        },
        None,
    ),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(
    database: Database, holder: IndexHolder, index: GeographyIndex, runs: int
) -> dict[str, Any]:
    detected = datetime(2026, 7, 1, tzinfo=UTC)
    figures: dict[str, Any] = {}
    for event_type, origin, geometry, params in REPORTS:
        timings: list[float] = []
        baseline: list[float] = []
        found = 0
        for _ in range(runs + 2):  # the first two warm caches and are not counted
            started = time.perf_counter()
            hazard = from_geojson(geometry)
            index.match(hazard, level=Level.prefecture)
            plain = time.perf_counter() - started
            epidemic.arrivals.cache_clear()  # a new report, not an update of the same one
            started = time.perf_counter()
            async with database.session() as session:
                result = await service.affected_by_hazard(
                    session=session,
                    index_holder=holder,
                    event_type=event_type,
                    category="natural_disaster",
                    geometry=geometry,
                    origin_level="prefecture",
                    origin_adcode=origin,
                    severity_rank=2,
                    detected_at=detected,
                    params=params,
                )
            timings.append(time.perf_counter() - started)
            baseline.append(plain)
            found = len(result)
        timings, baseline = timings[2:], baseline[2:]
        median, base = statistics.median(timings) * 1000, statistics.median(baseline) * 1000
        figures[event_type] = {
            "median_ms": round(median, 2),
            "p95_ms": round(percentile(timings, 0.95) * 1000, 2),
            "baseline_median_ms": round(base, 3),
            "ratio": round(median / base, 1) if base > 0 else None,
            "affected": found,
        }
        print(
            f"{event_type}: median {median:.1f} ms, p95 {figures[event_type]['p95_ms']:.1f} ms, "
            f"{found} affected; baseline match {base:.2f} ms; ratio {figures[event_type]['ratio']}"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Hubei only, 20 runs per report")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    provinces = ["42"] if args.quick else ["42", "43", "36", "34"]
    runs = 20 if args.quick else args.runs
    started = time.perf_counter()
    bundle = loader.load_bundle(provinces)
    index = GeographyIndex.build(
        [
            (j.level.value, j.adcode, j.name, j.parent_adcode, j.area_km2, j.geometry)
            for j in bundle.jurisdictions
        ],
        load_id=1,
    )
    print(
        f"loaded {len(bundle.jurisdictions)} jurisdictions of {','.join(provinces)} in {time.perf_counter() - started:.1f} s"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        engine = create_engine(f"sqlite:///{path}")
        Base.metadata.create_all(engine)
        with engine.begin() as connection:  # the load the in-memory index stands for
            connection.execute(
                GeographyLoad.__table__.insert().values(id=1, source="benchmark", provinces="")
            )
        engine.dispose()
        holder = IndexHolder()
        holder.index = index

        async def run() -> dict[str, Any]:
            database = Database(f"sqlite+aiosqlite:///{path}")
            try:
                return await measure(database, holder, index, runs)
            finally:
                await database.dispose()

        figures = asyncio.run(run())
    worst = max(item["median_ms"] for item in figures.values())
    print(
        f"slowest median {worst:.1f} ms of a {BUDGET_MS:.0f} ms budget: {'within' if worst < BUDGET_MS else 'OVER'}"
    )
    print(json.dumps({"runs": runs, "provinces": provinces, "budget_ms": BUDGET_MS, "reports": figures}))


if __name__ == "__main__":
    main()
