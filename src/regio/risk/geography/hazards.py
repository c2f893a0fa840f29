"""A hazard's extent from what a caller sends: GeoJSON, a circle, a CAP 1.2 polygon or adcodes.

Every input is checked before it reaches GEOS, so that a bad one is refused with the problem named
(unclosed ring, crossing edges, out-of-range coordinate) instead of matching nonsense.
Circles are geodesic polygons of 128 vertices, so a chord strays inside the true circle by at most
r * (1 - cos(pi / 128)), 0.03% of the radius (6 m on a 20 km circle). Solving the geodesic problem
(pyproj.Geod.fwd) for every vertex costs about 70 us, so only 8 vertices (16 beyond 100 km) are
solved exactly and the rest follow by trigonometric interpolation: a circle's vertices are smooth
periodic functions of the azimuth whose harmonics shrink like (r / R)^m, so every vertex lies within
5e-6 of the radius from the centre (at most 0.5 m at 100 km, 5 m at 1000 km; checked against
pyproj.Geod.inv for latitudes -70..70 in tests/risk/geography/test_numerics.py), far inside the
chord error. A circle that could reach beyond 60 degrees of latitude or the antimeridian, where
the harmonics shrink more slowly, has every vertex solved.

Valid GeoJSON points and polygons of plain numbers take a fast path; anything else goes the
careful way, which names the problem. The fast path also notes the hazard's extent (its box and one
of its points), which lets the matcher's grid answer most plain questions without building or
testing any geometry; a point's geometry is then built only if something asks for it.
"""

from __future__ import annotations

import math
import re
import struct
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Geod

from regio.risk.geography import errors

GEOD = Geod(ellps="WGS84")
CIRCLE_VERTICES = 128
# Exactly solved vertices of a circle: 8 up to 100 km, 16 up to MAX_RADIUS_KM keep every vertex
# within 5e-6 of the radius (the figures of the module docstring).
SOLVED_VERTICES_NEAR, SOLVED_VERTICES_FAR, NEAR_KM = 8, 16, 100.0
INTERPOLATION_MAX_LAT = 60.0  # the highest latitude a circle may reach and still be interpolated
MAX_RADIUS_KM = 1000.0
MAX_POINTS = 100_000
SUPPORTED_TYPES = ("Point", "Polygon", "MultiPolygon")
_PLAIN_NUMBERS = (float, int)  # what json.loads gives for numbers; bool, a subclass of int, is not one
Extent = tuple[float, float, float, float, float, float]


class Hazard:
    """Where a hazard is, in WGS-84; a circle keeps its centre and radius for exact distances.

    A circle's polygon is built on first use of `geometry`: a circle far from every loaded
    jurisdiction is answered from its bounding box alone (see `circle_bounds`).
    """

    __slots__ = ("_geometry", "adcodes", "center", "extent", "kind", "radius_km")

    def __init__(
        self,
        kind: str,  # geometry | circle | cap_polygon | adcodes
        geometry: shapely.Geometry | None = None,
        center: tuple[float, float] | None = None,  # (lon, lat) of a circle
        radius_km: float = 0.0,
        adcodes: tuple[str, ...] = (),
        *,
        extent: Extent | None = None,
    ) -> None:
        self.kind = kind
        self._geometry = geometry
        self.center = center
        self.radius_km = radius_km
        self.adcodes = adcodes
        # (west, south, east, north, lon, lat): a box holding the hazard and a point of it, when known
        self.extent = extent

    @property
    def geometry(self) -> shapely.Geometry | None:
        if self._geometry is None:
            if self.center is not None:
                self._geometry = geodesic_circle(self.center[0], self.center[1], self.radius_km)
            elif self.kind == "geometry" and self.extent is not None:  # a point, built on first use
                self._geometry = _wkb_point(self.extent[4], self.extent[5])
        return self._geometry

    def __repr__(self) -> str:
        return (
            f"Hazard({self.kind!r}, center={self.center}, radius_km={self.radius_km}, adcodes={self.adcodes})"
        )


def _finite(value: float) -> bool:
    """A finite number; an integer too big for a float (a JSON literal of 400 digits) is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise errors.InvalidGeometry(
            problem=f"{where} is not a finite number", problem_zh=f"{where} 不是有限数值"
        )
    return float(value)


def _check_lon_lat(lon: float, lat: float) -> None:
    if not -180.0 <= lon <= 180.0:
        raise errors.CoordinatesOutOfRange(value=f"longitude {lon}", axis="lon")
    if not -90.0 <= lat <= 90.0:
        raise errors.CoordinatesOutOfRange(value=f"latitude {lat}", axis="lat")


def _position(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise errors.InvalidGeometry(
            problem=f"{where} is not a [longitude, latitude] position",
            problem_zh=f"{where} 不是 [经度, 纬度] 坐标",
        )
    lon, lat = _number(value[0], where), _number(value[1], where)
    _check_lon_lat(lon, lat)
    return lon, lat


def _ring(value: Any, where: str, ring_number: int) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple):
        raise errors.InvalidGeometry(
            problem=f"{where} is not a list of positions", problem_zh=f"{where} 不是坐标列表"
        )
    points = [_position(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if len(points) >= 2 and points[0] != points[-1]:
        raise errors.UnclosedRing(ring=ring_number)
    if len(points) < 4:
        raise errors.InvalidGeometry(
            problem=f"{where} has {len(points)} positions; a closed ring needs at least 4",
            problem_zh=f"{where} 只有 {len(points)} 个点，闭合环至少需要 4 个点",
        )
    return points


def _polygon(value: Any, where: str, first_ring: int) -> shapely.Polygon:
    if not isinstance(value, list | tuple) or not value:
        raise errors.InvalidGeometry(problem=f"{where} has no rings", problem_zh=f"{where} 没有环")
    rings = [_ring(ring, f"{where}[{i}]", first_ring + i) for i, ring in enumerate(value)]
    return shapely.Polygon(rings[0], rings[1:])


def _require_valid(geometry: shapely.Geometry) -> shapely.Geometry:
    if geometry.is_valid:
        return geometry
    reason = str(shapely.is_valid_reason(geometry))
    match = re.search(r"\[([-0-9.eE+]+) ([-0-9.eE+]+)\]", reason)
    if "Self-intersection" in reason or "self-intersection" in reason.lower():
        lon, lat = (match.group(1), match.group(2)) if match else ("?", "?")
        raise errors.SelfIntersecting(lon=lon, lat=lat, reason=reason)
    raise errors.InvalidGeometry(problem=reason, problem_zh=f"几何图形无效（{reason}）")


def _count_points(value: Any) -> int:
    if isinstance(value, list | tuple):
        if value and isinstance(value[0], int | float):
            return 1
        return sum(_count_points(item) for item in value)
    return 0


def _plain_position(position: Any) -> bool:
    """[lon, lat] of plain numbers in range (no bool, no string, no altitude)."""
    if type(position) is not list or len(position) != 2:
        return False
    lon, lat = position
    return (
        type(lon) in _PLAIN_NUMBERS
        and type(lat) in _PLAIN_NUMBERS
        and -180.0 <= lon <= 180.0
        and -90.0 <= lat <= 90.0
    )


def _plain_ring(ring: Any) -> tuple[float, float, float, float] | None:
    """The box (west, south, east, north) of a closed ring of at least 4 plain positions, or None.

    The check of _plain_position, inlined for speed, and the box found on the same pass.
    """
    if type(ring) is not list or len(ring) < 4 or ring[0] != ring[-1]:
        return None
    numbers = _PLAIN_NUMBERS
    west, south, east, north = 180.0, 90.0, -180.0, -90.0
    for position in ring:
        if type(position) is not list or len(position) != 2:
            return None
        lon, lat = position
        if not (
            type(lon) in numbers and type(lat) in numbers and -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0
        ):
            return None
        if lon < west:
            west = lon
        if lon > east:
            east = lon
        if lat < south:
            south = lat
        if lat > north:
            north = lat
    return float(west), float(south), float(east), float(north)


def _fast_geojson(value: Any) -> Hazard | None:
    """The common case (a Point or a hole-free Polygon of plain numbers in range), or None.

    Whatever it accepts, the careful path below would accept as the same geometry; whatever it
    does not, the careful path checks and names.
    """
    if type(value) is not dict:
        return None
    kind, coordinates = value.get("type"), value.get("coordinates")
    if kind == "Point":
        if not _plain_position(coordinates):
            return None
        lon, lat = (float(value) for value in coordinates)  # type: ignore[union-attr]
        return Hazard(kind="geometry", extent=(lon, lat, lon, lat, lon, lat))
    if kind == "Polygon" and type(coordinates) is list and len(coordinates) == 1:
        shell = coordinates[0]
        box = _plain_ring(shell) if len(shell) <= MAX_POINTS else None
        if box is None:
            return None
        polygon = _require_valid(_wkb_polygon_from_list(shell))
        lon, lat = shell[0]
        return Hazard(kind="geometry", geometry=polygon, extent=(*box, float(lon), float(lat)))
    return None


def from_geojson(value: Any) -> Hazard:
    """A GeoJSON Point, Polygon or MultiPolygon (or a Feature holding one), checked."""
    fast = _fast_geojson(value)
    if fast is not None:
        return fast
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict):
        raise errors.InvalidGeometry(
            problem="geometry must be a GeoJSON object", problem_zh="geometry 须为 GeoJSON 对象"
        )
    kind = value.get("type")
    if kind not in SUPPORTED_TYPES:
        raise errors.InvalidGeometry(
            problem=f"type {kind!r} is not one of {', '.join(SUPPORTED_TYPES)}",
            problem_zh=f"类型 {kind!r} 不受支持（可用：{'、'.join(SUPPORTED_TYPES)}）",
        )
    coordinates = value.get("coordinates")
    if _count_points(coordinates) > MAX_POINTS:
        raise errors.InvalidGeometry(
            problem=f"more than {MAX_POINTS} positions", problem_zh=f"坐标点超过 {MAX_POINTS} 个"
        )
    geometry: shapely.Geometry
    if kind == "Point":
        geometry = shapely.Point(_position(coordinates, "coordinates"))
    elif kind == "Polygon":
        geometry = _polygon(coordinates, "coordinates", 1)
    else:
        if not isinstance(coordinates, list | tuple) or not coordinates:
            raise errors.InvalidGeometry(
                problem="MultiPolygon has no polygons", problem_zh="MultiPolygon 不含多边形"
            )
        polygons, ring = [], 1
        for i, polygon in enumerate(coordinates):
            polygons.append(_polygon(polygon, f"coordinates[{i}]", ring))
            ring += len(polygon)
        geometry = shapely.MultiPolygon(polygons)
    return Hazard(kind="geometry", geometry=_require_valid(geometry))


_WKB_POINT = struct.Struct("<BIdd")  # little-endian, Point, x, y
_WKB_POLYGON = struct.Struct("<BIII")  # little-endian, Polygon, 1 ring, n points
_RAISE_ON_INVALID = np.uint8(shapely.io.DecodingErrorOptions.get_value("raise"))


def _from_wkb(data: bytes) -> shapely.Geometry:
    """shapely.from_wkb for one blob, without the public wrapper's per-call option parsing.

    That parsing costs more than reading a small polygon; the ufunc is called exactly as the
    wrapper calls it (tests/risk/geography/test_numerics.py checks both give the same geometry).
    """
    return shapely.lib.from_wkb(np.asarray(data, dtype=object), _RAISE_ON_INVALID)


def _wkb_point(lon: float, lat: float) -> shapely.Point:
    """A point through WKB: cheaper than shapely.points on a fresh array."""
    return _from_wkb(_WKB_POINT.pack(1, 1, lon, lat))


def _wkb_polygon(ring: np.ndarray) -> shapely.Polygon:
    """A hole-free polygon from a closed (n, 2) ring, through WKB: a third of shapely.polygons' overhead."""
    header = _WKB_POLYGON.pack(1, 3, 1, len(ring))
    return _from_wkb(header + np.ascontiguousarray(ring, dtype="<f8").tobytes())


def _wkb_polygon_from_list(ring: list[list[float]]) -> shapely.Polygon:
    """The same polygon from a closed ring of [lon, lat] lists, packed without a numpy array."""
    n = len(ring)
    flat = [value for position in ring for value in position]
    return _from_wkb(_WKB_POLYGON.pack(1, 3, 1, n) + struct.pack(f"<{2 * n}d", *flat))


def _fourier_basis(azimuths: np.ndarray, terms: int) -> np.ndarray:
    """The real Fourier basis 1, cos a, sin a, ..., cos(terms/2 a) at the azimuths (radians)."""
    columns = [np.ones_like(azimuths)]
    for harmonic in range(1, terms // 2):
        columns += [np.cos(harmonic * azimuths), np.sin(harmonic * azimuths)]
    columns.append(np.cos(terms // 2 * azimuths))
    return np.column_stack(columns)


@lru_cache(maxsize=16)
def _interpolation(solved: int, vertices: int) -> np.ndarray:
    """The matrix taking `solved` equally spaced vertices (from azimuth 0) to the closed ring's."""
    solved_at = np.linspace(0.0, 2 * np.pi, solved, endpoint=False)
    ring_at = np.linspace(0.0, 2 * np.pi, vertices, endpoint=False)
    weights = _fourier_basis(ring_at, solved) @ np.linalg.inv(_fourier_basis(solved_at, solved))
    weights = np.vstack([weights, weights[:1]])  # the ring closes on its first vertex
    weights.setflags(write=False)
    return weights


def _solve(lon: float, lat: float, azimuths: list[float], metres: float) -> np.ndarray:
    """The (n, 2) lon/lat points metres away from the centre at the azimuths (degrees), exactly."""
    # pyproj's scalar call skips the array bookkeeping, which costs more than solving 8 or 16 points
    fwd = GEOD.fwd
    return np.array([fwd(lon, lat, azimuth, metres)[:2] for azimuth in azimuths])


def _solve_symmetric(lon: float, lat: float, count: int, metres: float) -> np.ndarray:
    """`count` equally spaced points of the circle from azimuth 0, solving only its eastern half.

    A geodesic circle on an ellipsoid of revolution is symmetric about its centre's meridian:
    the point at azimuth -a mirrors the one at a.
    """
    fwd, step, half = GEOD.fwd, 360.0 / count, count // 2
    east = [fwd(lon, lat, i * step, metres)[:2] for i in range(half + 1)]
    west = [(2.0 * lon - x, y) for x, y in reversed(east[1:half])]
    return np.array(east + west)


def _may_wrap(lon: float, lat: float, radius_km: float) -> bool:
    """Whether a circle could reach a pole's cap or the antimeridian, where interpolation fails."""
    # no radius of curvature of WGS-84 is below 6335 km, so these angles bound the circle's reach
    reach = math.degrees(radius_km / 6335.0)
    highest = abs(lat) + reach
    if highest > INTERPOLATION_MAX_LAT:
        return True
    return 180.0 - abs(lon) < 1.5 * reach / math.cos(math.radians(highest))


def circle_bounds(lon: float, lat: float, radius_km: float) -> tuple[float, float, float, float] | None:
    """A box (west, south, east, north) holding the geodesic circle, or None near a pole or ±180°.

    No radius of curvature of WGS-84 is below 6335 km, so the circle lies within the spherical cap
    of angular radius d = r / 6335 km: d of latitude either way, and asin(sin d / cos lat) of
    longitude; 2% more covers the ellipsoid's flattening (tests/risk/geography/test_numerics.py).
    """
    reach = radius_km / 6335.0
    spread = math.degrees(reach) * 1.02
    if abs(lat) + spread > INTERPOLATION_MAX_LAT:
        return None
    wide = math.degrees(math.asin(min(1.0, math.sin(reach) / math.cos(math.radians(lat))))) * 1.02
    if abs(lon) + wide >= 180.0:
        return None
    return lon - wide, lat - spread, lon + wide, lat + spread


def geodesic_circle(
    lon: float, lat: float, radius_km: float, vertices: int = CIRCLE_VERTICES
) -> shapely.Polygon:
    """The polygon whose vertices lie radius_km (geodesic, WGS-84, within 5e-6) from the centre."""
    metres = radius_km * 1000.0
    solved = SOLVED_VERTICES_NEAR if radius_km <= NEAR_KM else SOLVED_VERTICES_FAR
    if vertices > solved and not _may_wrap(lon, lat, radius_km):
        ring = _interpolation(solved, vertices) @ _solve_symmetric(lon, lat, solved, metres)
        ring[-1] = ring[0]  # closed bit for bit, whatever the arithmetic did
        return _wkb_polygon(ring)
    points = _solve(lon, lat, np.linspace(0.0, 360.0, vertices, endpoint=False).tolist(), metres)
    return _wkb_polygon(np.vstack([points, points[:1]]))


def from_circle(value: Any) -> Hazard:
    """A circle {"lat", "lon", "radius_km"} with a geodesic radius."""
    if type(value) is dict:
        lat: Any = value.get("lat")
        lon: Any = value.get("lon")
        radius: Any = value.get("radius_km")
        if (
            type(lat) in _PLAIN_NUMBERS
            and type(lon) in _PLAIN_NUMBERS
            and type(radius) in _PLAIN_NUMBERS
            and -90.0 <= lat <= 90.0
            and -180.0 <= lon <= 180.0
            and 0.0 < radius <= MAX_RADIUS_KM
        ):  # the common case; anything else is checked and named below
            return Hazard("circle", None, (float(lon), float(lat)), float(radius))
    if not isinstance(value, dict):
        raise errors.InvalidCircle(
            problem="give lat, lon and radius_km", problem_zh="须提供 lat、lon 和 radius_km"
        )
    missing = [key for key in ("lat", "lon", "radius_km") if key not in value]
    if missing:
        raise errors.InvalidCircle(
            problem=f"missing {', '.join(missing)}", problem_zh=f"缺少 {'、'.join(missing)}"
        )
    lat = _number(value["lat"], "lat")
    lon = _number(value["lon"], "lon")
    radius = _number(value["radius_km"], "radius_km")
    _check_lon_lat(lon, lat)
    if not 0.0 < radius <= MAX_RADIUS_KM:
        raise errors.InvalidCircle(
            problem=f"radius_km must be above 0 and at most {MAX_RADIUS_KM:g}",
            problem_zh=f"radius_km 须大于 0 且不超过 {MAX_RADIUS_KM:g}",
        )
    return Hazard(kind="circle", center=(lon, lat), radius_km=radius)  # its polygon is built on first use


def from_cap_polygon(value: Any) -> Hazard:
    """A CAP 1.2 <polygon>: space-separated "lat,lon" WGS-84 pairs, at least 4, first equal to last."""
    if not isinstance(value, str) or not value.strip():
        raise errors.InvalidCapPolygon(problem="it is empty", problem_zh="内容为空")
    pairs = value.split()
    if len(pairs) > MAX_POINTS:
        raise errors.InvalidCapPolygon(
            problem=f"more than {MAX_POINTS} pairs", problem_zh=f"超过 {MAX_POINTS} 个点"
        )
    points: list[tuple[float, float]] = []
    for index, pair in enumerate(pairs, start=1):
        parts = pair.split(",")
        try:
            if len(parts) != 2:
                raise ValueError(pair)
            lat, lon = float(parts[0]), float(parts[1])
            if not (math.isfinite(lat) and math.isfinite(lon)):
                raise ValueError(pair)
        except ValueError:
            raise errors.InvalidCapPolygon(
                problem=f"pair {index} ({pair[:40]!r}) is not 'lat,lon'",
                problem_zh=f"第 {index} 个点（{pair[:40]}）不是“纬度,经度”",
            ) from None
        _check_lon_lat(lon, lat)
        points.append((lon, lat))
    if points[0] != points[-1]:
        raise errors.UnclosedRing(ring=1)
    if len(points) < 4:
        raise errors.InvalidCapPolygon(
            problem=f"it has {len(points)} pairs; CAP needs at least 4",
            problem_zh=f"只有 {len(points)} 个点，CAP 至少需要 4 个",
        )
    return Hazard(kind="cap_polygon", geometry=_require_valid(shapely.Polygon(points)))


def from_adcodes(value: Any) -> Hazard:
    """A hazard given as whole jurisdictions, by adcode."""
    if not isinstance(value, list) or not value:
        raise errors.InvalidGeometry(
            problem="adcodes must be a non-empty list", problem_zh="adcodes 须为非空列表"
        )
    codes = []
    for code in value:
        if not isinstance(code, str) or not (len(code) == 6 and code.isdigit()):
            raise errors.UnknownJurisdiction(adcode=str(code)[:20])
        codes.append(code)
    return Hazard(kind="adcodes", adcodes=tuple(dict.fromkeys(codes)))


def parse(
    *,
    geometry: Any = None,
    circle: Any = None,
    cap_polygon: Any = None,
    adcodes: Any = None,
) -> Hazard:
    """Exactly one of the four ways to say where a hazard is."""
    count = (geometry is not None) + (circle is not None) + (cap_polygon is not None) + (adcodes is not None)
    if count != 1:
        given = [
            name
            for name, value in (
                ("geometry", geometry),
                ("circle", circle),
                ("cap_polygon", cap_polygon),
                ("adcodes", adcodes),
            )
            if value is not None
        ]
        raise errors.OneHazardField(given=", ".join(given) or "none", fields=sorted(given))
    if geometry is not None:
        return from_geojson(geometry)
    if circle is not None:
        return from_circle(circle)
    if cap_polygon is not None:
        return from_cap_polygon(cap_polygon)
    return from_adcodes(adcodes)
