"""The numeric shortcuts of matching keep their documented error bounds against pyproj's geodesics."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from regio.risk.geography import errors
from regio.risk.geography.engine import GeographyIndex
from regio.risk.geography.hazards import (
    CIRCLE_VERTICES,
    GEOD,
    circle_bounds,
    from_circle,
    geodesic_circle,
    parse,
)


def _radius_error(lon: float, lat: float, radius_km: float) -> float:
    """The largest relative gap between a circle vertex's geodesic distance and the radius."""
    xy = shapely.get_coordinates(geodesic_circle(lon, lat, radius_km))
    _, _, metres = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    return float(np.abs(metres / (radius_km * 1000.0) - 1.0).max())


@pytest.mark.parametrize("radius_km", [0.5, 5, 20, 50, 100, 150, 300, 600, 1000])
@pytest.mark.parametrize("lat", [-33.9, 0.0, 18.2, 31.2, 45.8, 53.5, 59.0, 68.0])
def test_circle_vertices_stay_within_5e_6_of_the_geodesic_radius(lat, radius_km) -> None:
    assert _radius_error(116.4, lat, radius_km) < 5e-6


@pytest.mark.parametrize("radius_km", [1, 20, 100])
def test_circles_up_to_100_km_are_within_half_a_metre_of_the_radius(radius_km) -> None:
    for lon, lat in [(73.5, 39.4), (121.5, 25.0), (134.7, 48.3), (109.5, 18.2)]:
        assert _radius_error(lon, lat, radius_km) * radius_km * 1000.0 < 0.5


@pytest.mark.parametrize(
    ("lon", "lat", "radius_km"), [(179.9, 10.0, 50), (-179.95, -20.0, 300), (0.0, 85.0, 600)]
)
def test_circles_across_the_antimeridian_or_near_a_pole_are_solved_vertex_by_vertex(
    lon, lat, radius_km
) -> None:
    xy = shapely.get_coordinates(geodesic_circle(lon, lat, radius_km))
    assert len(xy) == CIRCLE_VERTICES + 1
    _, _, metres = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    assert np.abs(metres - radius_km * 1000.0).max() < 0.01


def test_a_circle_is_a_closed_valid_ring_of_the_documented_vertex_count() -> None:
    circle = geodesic_circle(120.14, 30.245, 20.0)
    xy = shapely.get_coordinates(circle)
    assert circle.is_valid and len(xy) == CIRCLE_VERTICES + 1 and (xy[0] == xy[-1]).all()
    # the chord error bound of the docstring: the polygon's area is that of the inscribed 128-gon
    area, _ = GEOD.geometry_area_perimeter(circle)
    inscribed = 0.5 * CIRCLE_VERTICES * 20_000.0**2 * np.sin(2 * np.pi / CIRCLE_VERTICES)
    assert abs(abs(area) / inscribed - 1) < 1e-4


def test_the_fast_and_careful_parsers_build_the_same_geometry() -> None:
    ring = [[120.0, 30.0], [120.5, 30.0], [120.5, 30.5], [120, 30.5], [120.0, 30.0]]
    fast = parse(geometry={"type": "Polygon", "coordinates": [ring]}).geometry
    careful = parse(geometry={"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert shapely.equals_exact(fast, careful.geometry, tolerance=0)
    point = parse(geometry={"type": "Point", "coordinates": [120, 30.5]}).geometry
    with_altitude = parse(geometry={"type": "Point", "coordinates": [120, 30.5, 12.0]}).geometry
    assert shapely.equals_exact(point, with_altitude, tolerance=0)
    assert from_circle({"lat": 30, "lon": 120, "radius_km": 20}).center == (120.0, 30.0)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [True, 30.0]},
        {"type": "Point", "coordinates": ["120", "30"]},
        {"type": "Polygon", "coordinates": [[[120, 30], [121, 30], [121, 31], [120, False], [120, 30]]]},
    ],
)
def test_booleans_and_strings_are_refused_as_coordinates_not_coerced(geometry) -> None:
    with pytest.raises(errors.InvalidGeometry):
        parse(geometry=geometry)


def _exact_circle(lon: float, lat: float, radius_km: float) -> shapely.Polygon:
    """The circle as it was built before interpolation: every vertex solved by pyproj."""
    azimuths = np.linspace(0.0, 360.0, CIRCLE_VERTICES, endpoint=False)
    n = CIRCLE_VERTICES
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), azimuths, np.full(n, radius_km * 1000.0))
    ring = np.column_stack([lons, lats])
    return shapely.Polygon(np.vstack([ring, ring[:1]]))


def test_plain_matches_equal_the_general_path_with_exactly_solved_circles(yrd_index: GeographyIndex) -> None:
    index = yrd_index.levels["county"]
    rng = np.random.default_rng(7)
    compared = 0
    for lon, lat in zip(rng.uniform(115.5, 122.5, 80), rng.uniform(27.5, 35.0, 80), strict=True):
        lon, lat = float(lon), float(lat)
        point = parse(geometry={"type": "Point", "coordinates": [lon, lat]})
        circle = parse(circle={"lat": lat, "lon": lon, "radius_km": 20.0})
        for hazard, reference in ((point, point.geometry), (circle, _exact_circle(lon, lat, 20.0))):
            fast = yrd_index.match(hazard, level="county")
            general = yrd_index._match_geometry(index, reference, buffer_km=0.0, overlap=False)
            assert fast == general
            compared += len(fast)
    assert compared > 150  # the comparisons were not vacuous


def test_every_circle_lies_inside_the_box_it_is_first_looked_up_by() -> None:
    rng = np.random.default_rng(11)
    checked = 0
    for lon, lat, radius_km in zip(
        rng.uniform(-179.0, 179.0, 400),
        rng.uniform(-62.0, 62.0, 400),
        np.exp(rng.uniform(np.log(0.1), np.log(1000.0), 400)),
        strict=True,
    ):
        bounds = circle_bounds(float(lon), float(lat), float(radius_km))
        if bounds is None:
            continue  # near a pole or the antimeridian the polygon itself is looked up
        assert shapely.box(*bounds).contains(_exact_circle(float(lon), float(lat), float(radius_km)))
        checked += 1
    assert checked > 300
    assert circle_bounds(179.9, 10.0, 50.0) is None and circle_bounds(0.0, 59.0, 200.0) is None


def test_a_circle_far_from_every_jurisdiction_is_answered_without_building_its_polygon(
    yrd_index: GeographyIndex,
) -> None:
    at_sea = from_circle({"lat": 28.0, "lon": 126.5, "radius_km": 20})
    assert yrd_index.match(at_sea, level="county") == []
    assert at_sea._geometry is None
    near = from_circle({"lat": 30.0, "lon": 122.9, "radius_km": 20})  # reaches the Zhoushan islands
    by_box = yrd_index.match(near, level="county")
    assert near._geometry is not None
    index = yrd_index.levels["county"]
    expected = sorted(index.entries[p].adcode for p in index.hits(_exact_circle(122.9, 30.0, 20.0)))
    assert [m.adcode for m in by_box] == expected


def test_the_lean_wkb_reader_builds_what_shapely_from_wkb_builds() -> None:
    from regio.risk.geography.hazards import _from_wkb

    for geometry in (
        shapely.Point(120.1, 30.2),
        geodesic_circle(120.14, 30.245, 20.0),
        shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 0)], [[(0.5, 0.2), (0.7, 0.2), (0.7, 0.3), (0.5, 0.2)]]),
    ):
        data = shapely.to_wkb(geometry)
        assert shapely.equals_exact(_from_wkb(data), shapely.from_wkb(data), tolerance=0)
    with pytest.raises(shapely.errors.GEOSException):
        _from_wkb(b"\x01\x03\x00")  # a broken blob is refused, as the public reader refuses it
