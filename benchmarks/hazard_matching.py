"""Hazard matching: Regio's engine against PostGIS and a bare shapely loop, on every county of China.

Random points, 20 km circles and 50 km polygons are matched one query at a time against all
counties by (a) Regio's engine as the API calls it (parse the request's hazard, then match),
(b) PostGIS (GiST indexes, ST_Intersects on geometry, ST_DWithin on geography, prepared statements)
and (c) a bare loop over an STRtree of prepared county polygons with the hazards built beforehand:
the practical limit. The engines take turns, 250 queries at a time, and each rate is that of the
median chunk, so that other work on the machine skews no engine. The last line printed is one JSON
object with queries/s per engine and shape, the ratios Regio/PostGIS and Regio/bare, and the memory
used with every boundary loaded: all three levels, built from WKB as the service builds them from
the database, with every index the engine uses (edge and point-in-area indexes, grids) built up
front, measured as resident memory once the source data is freed.

    .venv/bin/python benchmarks/hazard_matching.py                 # 10,000 queries per shape, all of China
    .venv/bin/python benchmarks/hazard_matching.py --quick         # Zhejiang's counties, 300 queries, for CI
    .venv/bin/python benchmarks/hazard_matching.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

PostGIS runs in a scratch database created next to the given one (and dropped afterwards); when
PostgreSQL or the postgis extension is missing (Debian: postgresql-15-postgis-3), that engine is
skipped with a note and the others still run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely

from regio.risk.geography import hazards, loader
from regio.risk.geography.engine import GeographyIndex, release_freed_memory
from regio.risk.geography.enums import Level

SHAPES = ("point", "circle", "polygon")


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def read_all(provinces: list[str] | None) -> list[tuple[str, str, str, str | None, float, bytes]]:
    """The index's rows as the service reads them from the database: WKB boundaries."""
    rows = []
    for record in loader.read_index(provinces):
        geometry = loader.read_geometry(record)
        wkb = shapely.to_wkb(geometry)
        rows.append((record.level.value, record.adcode, record.name, record.parent_adcode, 0.0, wkb))
    return rows


def polygon_around(lon: float, lat: float, rng: np.random.Generator) -> dict[str, Any]:
    """A random convex-ish octagon about 50 km across, as GeoJSON."""
    ring = hazards.geodesic_circle(lon, lat, 25.0, vertices=8)
    xy = shapely.get_coordinates(ring)[:-1]
    jitter = rng.uniform(0.85, 1.0, size=(len(xy), 1))
    xy = np.array([lon, lat]) + (xy - np.array([lon, lat])) * jitter
    coordinates = [[round(x, 6), round(y, 6)] for x, y in xy]
    return {"type": "Polygon", "coordinates": [[*coordinates, coordinates[0]]]}


def make_queries(bounds: tuple[float, float, float, float], n: int, seed: int = 42) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)
    west, south, east, north = bounds
    lons = rng.uniform(west, east, n)
    lats = rng.uniform(south, north, n)
    queries = {
        "point": [
            {"type": "Point", "coordinates": [float(x), float(y)]} for x, y in zip(lons, lats, strict=True)
        ],
        "circle": [
            {"lat": float(y), "lon": float(x), "radius_km": 20.0} for x, y in zip(lons, lats, strict=True)
        ],
        "polygon": [polygon_around(float(x), float(y), rng) for x, y in zip(lons, lats, strict=True)],
    }
    # as a request body arrives: plain JSON numbers, not numpy scalars
    result: dict[str, list[Any]] = json.loads(json.dumps(queries))
    return result


Runner = tuple[Callable[[Any], int], list[Any]]  # one query's function and the queries it answers
CHUNK = 250


def measure(engines: dict[str, dict[str, Runner]]) -> dict[str, dict[str, tuple[float, int]]]:
    """Queries/s and matches found, per engine and shape.

    Every engine answers every query once, one at a time. The engines take turns a chunk of
    queries at a time, and the rate is that of the median chunk, so that a burst of other work
    on the machine slows no engine more than another.
    """
    per_query: dict[str, dict[str, list[float]]] = {name: {s: [] for s in SHAPES} for name in engines}
    found = {name: dict.fromkeys(SHAPES, 0) for name in engines}
    for shape in SHAPES:
        count = len(next(iter(engines.values()))[shape][1])
        for first in range(0, count, CHUNK):
            for name, runners in engines.items():
                run, items = runners[shape]
                chunk = items[first : first + CHUNK]
                started = time.perf_counter()
                matches = 0
                for item in chunk:
                    matches += run(item)
                per_query[name][shape].append((time.perf_counter() - started) / len(chunk))
                found[name][shape] += matches
    return {
        name: {
            shape: (1.0 / statistics.median(per_query[name][shape]), found[name][shape]) for shape in SHAPES
        }
        for name in engines
    }


def regio_runners(index: GeographyIndex, queries: dict[str, list[Any]]) -> dict[str, Runner]:
    # exactly what service.match does between the request's validation and the response
    def point(q: Any) -> int:
        hazard = hazards.parse(geometry=q, circle=None, cap_polygon=None, adcodes=None)
        return len(index.match(hazard, level=Level.county, buffer_km=0.0, overlap=False))

    def circle(q: Any) -> int:
        hazard = hazards.parse(geometry=None, circle=q, cap_polygon=None, adcodes=None)
        return len(index.match(hazard, level=Level.county, buffer_km=0.0, overlap=False))

    return {
        "point": (point, queries["point"]),
        "circle": (circle, queries["circle"]),
        "polygon": (point, queries["polygon"]),
    }


def bare_runners(geometries: np.ndarray, queries: dict[str, list[Any]]) -> dict[str, Runner]:
    tree = shapely.STRtree(geometries)
    built = {
        "point": [shapely.Point(q["coordinates"]) for q in queries["point"]],
        "circle": [hazards.geodesic_circle(q["lon"], q["lat"], q["radius_km"]) for q in queries["circle"]],
        "polygon": [shapely.Polygon(q["coordinates"][0]) for q in queries["polygon"]],
    }

    def run(geometry: shapely.Geometry) -> int:
        candidates = tree.query(geometry)
        return int(shapely.intersects(geometries[candidates], geometry).sum()) if candidates.size else 0

    return {shape: (run, built[shape]) for shape in SHAPES}


County = tuple[str, shapely.Geometry]  # adcode, boundary


@contextmanager
def postgis_runners(
    url: str, counties: list[County], queries: dict[str, list[Any]]
) -> Iterator[tuple[dict[str, Runner] | None, str]]:
    """PostGIS's runners over a scratch database (dropped afterwards), or None and why not."""
    try:
        import psycopg
    except ImportError:
        yield None, "psycopg not installed"
        return
    conninfo = url.replace("postgresql+asyncpg://", "postgresql://").replace(
        "postgresql+psycopg://", "postgresql://"
    )
    scratch = f"regio_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except Exception as error:
        yield None, f"PostgreSQL not reachable at {conninfo}: {error}"
        return
    base = conninfo.rsplit("/", 1)[0]
    try:
        admin.execute(f'CREATE DATABASE "{scratch}"')
        try:
            with psycopg.connect(f"{base}/{scratch}", autocommit=True) as connection:
                try:
                    connection.execute("CREATE EXTENSION postgis")
                except Exception as error:
                    yield (
                        None,
                        f"postgis extension unavailable ({str(error).strip()}); install postgresql-15-postgis-3",
                    )
                    return
                yield _postgis(connection, counties, queries), "ok"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        admin.close()


def _postgis(connection: Any, counties: list[County], queries: dict[str, list[Any]]) -> dict[str, Runner]:
    connection.execute(
        "CREATE TABLE counties (adcode text, geom geometry(MultiPolygon, 4326), geog geography)"
    )
    with connection.cursor() as cursor, cursor.copy("COPY counties (adcode, geom) FROM STDIN") as copy:
        for adcode, geometry in counties:
            if geometry.geom_type == "Polygon":
                geometry = shapely.MultiPolygon([geometry])
            copy.write_row((adcode, "SRID=4326;" + shapely.to_wkt(geometry, rounding_precision=-1)))
    connection.execute("UPDATE counties SET geog = geom::geography")
    connection.execute("CREATE INDEX ON counties USING gist (geom)")
    connection.execute("CREATE INDEX ON counties USING gist (geog)")
    connection.execute("ANALYZE counties")
    point_sql = (
        "SELECT count(*) FROM counties WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
    )
    circle_sql = "SELECT count(*) FROM counties WHERE ST_DWithin(geog, ST_MakePoint(%s, %s)::geography, %s)"
    polygon_sql = "SELECT count(*) FROM counties WHERE ST_Intersects(geom, ST_GeomFromGeoJSON(%s))"
    cursor = connection.cursor()

    def point(q: Any) -> int:
        return int(cursor.execute(point_sql, q["coordinates"], prepare=True).fetchone()[0])

    def circle(q: Any) -> int:
        return int(
            cursor.execute(circle_sql, (q["lon"], q["lat"], q["radius_km"] * 1000), prepare=True).fetchone()[
                0
            ]
        )

    def polygon(q: Any) -> int:
        return int(cursor.execute(polygon_sql, (json.dumps(q),), prepare=True).fetchone()[0])

    return {
        "point": (point, queries["point"]),
        "circle": (circle, queries["circle"]),
        "polygon": (polygon, queries["polygon"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REGIO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="Zhejiang only, 300 queries per shape")
    args = parser.parse_args()
    provinces = ["33"] if args.quick else None
    n = 300 if args.quick else args.queries

    before = rss_mib()
    started = time.perf_counter()
    rows = read_all(provinces)
    read_s = time.perf_counter() - started
    index = GeographyIndex.build(rows)  # every level, every index built up front
    build_s = time.perf_counter() - started - read_s
    del rows
    gc.collect()
    release_freed_memory()  # as the service does once the rows it built from are gone
    memory = rss_mib() - before
    county_index = index.levels[Level.county]
    names = [entry.adcode for entry in county_index.entries]
    counties = list(zip(names, county_index.geometries.tolist(), strict=True))
    covered = {
        level.value: int(index.levels[level].covered.sum()) for level in (Level.province, Level.prefecture)
    }
    print(
        f"loaded {index.count(Level.province)} provinces, {index.count(Level.prefecture)} prefectures, "
        f"{len(counties)} counties (read {read_s:.1f} s, indexed {build_s:.1f} s; answered through "
        f"their children: {covered}); index memory {memory:.0f} MiB"
    )
    bounds = tuple(shapely.total_bounds(county_index.geometries))
    queries = make_queries(bounds, n)  # type: ignore[arg-type]

    engines = {
        "regio": regio_runners(index, queries),
        "bare": bare_runners(county_index.geometries, queries),
    }
    with postgis_runners(args.database_url, counties, queries) as (postgis_engine, note):
        if postgis_engine is not None:
            engines["postgis"] = postgis_engine
        figures_by_engine = measure(engines)
    regio, bare = figures_by_engine["regio"], figures_by_engine["bare"]
    postgis = figures_by_engine.get("postgis")
    for name, figures in (("regio", regio), ("bare", bare), ("postgis", postgis)):
        if figures is None:
            print(f"{name}: skipped: {note}")
            continue
        line = ", ".join(
            f"{shape} {figures[shape][0]:,.0f} q/s ({figures[shape][1]} matches)" for shape in SHAPES
        )
        print(f"{name}: {line}")

    def ratios(other: dict[str, tuple[float, int]] | None) -> dict[str, float] | None:
        if other is None:
            return None
        return {shape: round(regio[shape][0] / other[shape][0], 2) for shape in SHAPES}

    result = {
        "queries_per_shape": n,
        "counties": len(counties),
        "regio_qps": {shape: round(regio[shape][0]) for shape in SHAPES},
        "postgis_qps": {shape: round(postgis[shape][0]) for shape in SHAPES} if postgis else None,
        "bare_qps": {shape: round(bare[shape][0]) for shape in SHAPES},
        "regio_over_postgis": ratios(postgis),
        "regio_over_bare": ratios(bare),
        "memory_mib": round(memory),
        "postgis": note,
    }
    sys.stdout.flush()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
