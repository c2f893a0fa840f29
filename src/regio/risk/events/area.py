"""A hazard's area from its parts (jurisdictions, circles, CAP polygons, GeoJSON) as one WGS-84 geometry.

The parts are kept as given (`area`), because a CAP alert speaks of them that way (polygon,
circle, geocode); their union is the geometry stored for matching and duplicate checks.
Whole jurisdictions are simplified to about 50 m before the union, so a report over a city
stays a few thousand points rather than the boundary's full detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import mapping, shape

from regio.risk.events import errors
from regio.risk.events.schemas import AreaIn
from regio.risk.geography import hazards
from regio.risk.geography.engine import GeographyIndex
from regio.risk.geography.enums import LEVELS, Level
from regio.risk.geography.errors import GeographyNotLoaded, InvalidGeometry, UnknownJurisdiction

JURISDICTION_TOLERANCE_DEG = 0.0005  # about 50 m
MAX_STORED_POINTS = 50_000
COORDINATE_DECIMALS = 6  # about 0.1 m
MAX_DESC_NAMES = 12


@dataclass
class BuiltArea:
    geometry: dict[str, Any]  # GeoJSON
    area: dict[str, Any]  # {"polygons": [...], "circles": [...], "geocodes": [...]}
    area_desc: str
    shape: shapely.Geometry


def number_text(value: float) -> str:
    """A coordinate with at most 6 decimals (about 0.1 m) and no trailing zeros."""
    text = f"{value:.{COORDINATE_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def cap_polygon_text(ring: Any) -> str:
    """A ring of (lon, lat) as CAP 1.2 writes it: "lat,lon lat,lon ..."."""
    return " ".join(f"{number_text(lat)},{number_text(lon)}" for lon, lat in ring)


def _polygons_of(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    if isinstance(geometry, shapely.Polygon):
        return [geometry]
    if isinstance(geometry, shapely.MultiPolygon | shapely.GeometryCollection):
        found: list[shapely.Polygon] = []
        for part in geometry.geoms:
            found.extend(_polygons_of(part))
        return found
    return []


def jurisdiction_entry(index: GeographyIndex, adcode: str) -> tuple[Level, str]:
    """The jurisdiction an adcode names (its highest level when it stands at two), or UnknownJurisdiction."""
    found = index.find(adcode)
    if not found:
        raise UnknownJurisdiction(adcode=adcode)
    return found[0].level, found[0].name


def build(index: GeographyIndex, area: AreaIn) -> BuiltArea:
    """Checks each part, resolves jurisdictions to their boundaries, and unites them."""
    pieces: list[shapely.Geometry] = []
    polygons: list[str] = []
    circles: list[dict[str, float]] = []
    geocodes: list[dict[str, str]] = []
    for text in area.cap_polygons:
        hazard = hazards.from_cap_polygon(text)
        assert hazard.geometry is not None
        pieces.append(hazard.geometry)
        polygons.append(" ".join(text.split()))
    for circle in area.circles:
        hazard = hazards.from_circle(circle.model_dump())
        assert hazard.geometry is not None
        pieces.append(hazard.geometry)
        circles.append({"lat": circle.lat, "lon": circle.lon, "radius_km": circle.radius_km})
    for adcode in dict.fromkeys(area.adcodes):
        level, name = jurisdiction_entry(index, adcode)
        boundary = index.geometry(level, adcode)
        assert boundary is not None
        pieces.append(shapely.simplify(boundary, JURISDICTION_TOLERANCE_DEG, preserve_topology=True))
        geocodes.append({"level": level.value, "adcode": adcode, "name": name})
    if area.geojson is not None:
        hazard = hazards.from_geojson(area.geojson)
        assert hazard.geometry is not None
        pieces.append(hazard.geometry)
        given = _polygons_of(hazard.geometry)
        if given:
            polygons.extend(cap_polygon_text(polygon.exterior.coords) for polygon in given)
        elif isinstance(hazard.geometry, shapely.Point):
            circles.append({"lat": hazard.geometry.y, "lon": hazard.geometry.x, "radius_km": 0.0})
    if not pieces:
        raise errors.NoArea()
    united = pieces[0] if len(pieces) == 1 else shapely.union_all(pieces)
    united = shapely.set_precision(united, 10**-COORDINATE_DECIMALS)
    if united.is_empty:
        raise InvalidGeometry(problem="the area is empty", problem_zh="范围为空")
    points = shapely.get_num_coordinates(united)
    if points > MAX_STORED_POINTS:
        raise errors.AreaTooLarge(count=int(points), limit=MAX_STORED_POINTS)
    names = [code["name"] for code in geocodes]
    if not names:
        try:
            matched = index.match(hazards.Hazard(kind="geometry", geometry=united), level=Level.prefecture)
        except GeographyNotLoaded:
            matched = []
        names = [m.name for m in matched]
    desc = "、".join(names[:MAX_DESC_NAMES]) + ("等地" if len(names) > MAX_DESC_NAMES else "")
    return BuiltArea(
        geometry=dict(mapping(united)),
        area={"polygons": polygons, "circles": circles, "geocodes": geocodes},
        area_desc=desc,
        shape=united,
    )


def as_shape(geometry: dict[str, Any]) -> shapely.Geometry:
    return shape(geometry)


def plain(geometry: dict[str, Any]) -> dict[str, Any]:
    """GeoJSON with lists only (mapping() gives tuples; JSON columns hand back lists anyway)."""

    def listify(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [listify(item) for item in value]
        return value

    return {key: listify(value) for key, value in geometry.items()}


__all__ = [
    "LEVELS",
    "BuiltArea",
    "as_shape",
    "build",
    "cap_polygon_text",
    "jurisdiction_entry",
    "number_text",
    "plain",
]
