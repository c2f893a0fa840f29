"""The grid and the covered levels skip work but never change an answer: the fast path equals the exact one."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from regio.risk.geography.engine import GeographyIndex, LevelIndex
from regio.risk.geography.enums import Level
from regio.risk.geography.grid import EMPTY, MIXED, CellGrid
from regio.risk.geography.hazards import Hazard, from_circle, parse


def _exact(index: LevelIndex, geometry: shapely.Geometry) -> list[str]:
    """Every jurisdiction whose own boundary meets the geometry, by brute force over the whole level."""
    return sorted(
        index.entries[i].adcode for i in np.flatnonzero(shapely.intersects(index.geometries, geometry))
    )


def _near_boundaries(
    index: LevelIndex, count: int, seed: int, spread: float = 0.01
) -> list[tuple[float, float]]:
    """Points about `spread` degrees (0.01: a kilometre) from random boundary vertices: where a wrong answer would hide."""
    rng = np.random.default_rng(seed)
    xy = shapely.get_coordinates(index.geometries)
    picked = xy[rng.integers(0, len(xy), count)] + rng.normal(0.0, spread, (count, 2))
    return [(float(x), float(y)) for x, y in picked]


def _polygon_around(lon: float, lat: float, rng: np.random.Generator, size: float) -> dict[str, object]:
    """A random convex polygon about `size` degrees across around (lon, lat), as GeoJSON."""
    corners = shapely.multipoints(np.array([lon, lat]) + rng.uniform(-size / 2, size / 2, (8, 2)))
    ring = [[float(x), float(y)] for x, y in shapely.get_coordinates(shapely.convex_hull(corners))]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize("level", [Level.county, Level.prefecture, Level.province])
def test_points_near_boundaries_match_exactly_what_brute_force_finds(
    yrd_index: GeographyIndex, level
) -> None:
    index = yrd_index.levels[level]
    decided = 0
    counties = yrd_index.levels[Level.county]
    points = (
        _near_boundaries(index, 200, 1)
        + _near_boundaries(counties, 150, 2)
        + _near_boundaries(counties, 200, 3, 0.15)
    )
    for lon, lat in points:
        hazard = parse(geometry={"type": "Point", "coordinates": [lon, lat]})
        expected = _exact(index, shapely.Point(lon, lat))
        assert [m.adcode for m in yrd_index.match(hazard, level=level)] == expected, (lon, lat)
        if index.grid is not None:  # a level answered through its counties has none of its own
            decided += index.grid.decide(lon, lat, lon, lat, lon, lat) is not None
    assert decided > 10 or level != Level.county  # the grid answered some itself: both paths compared


@pytest.mark.parametrize("level", [Level.county, Level.prefecture, Level.province])
def test_circles_and_polygons_near_boundaries_match_exactly(yrd_index: GeographyIndex, level) -> None:
    index = yrd_index.levels[level]
    rng = np.random.default_rng(3)
    decided = 0
    counties = yrd_index.levels[Level.county]
    for lon, lat in _near_boundaries(counties, 100, 4) + _near_boundaries(counties, 100, 5, 0.3):
        radius = float(rng.choice([0.5, 3.0, 20.0]))
        circle = from_circle({"lat": lat, "lon": lon, "radius_km": radius})
        assert [m.adcode for m in yrd_index.match(circle, level=level)] == _exact(index, circle.geometry)
        polygon = parse(geometry=_polygon_around(lon, lat, rng, float(rng.choice([0.02, 0.2]))))
        assert polygon.extent is not None
        assert [m.adcode for m in yrd_index.match(polygon, level=level)] == _exact(index, polygon.geometry)
        if index.grid is not None:
            decided += index.grid.decide(*polygon.extent) is not None
    for lon, lat in zip(rng.uniform(116.0, 123.0, 100), rng.uniform(28.0, 34.0, 100), strict=True):
        circle = from_circle({"lat": float(lat), "lon": float(lon), "radius_km": 5.0})
        assert [m.adcode for m in yrd_index.match(circle, level=level)] == _exact(index, circle.geometry)
    assert decided > 3 or level != Level.county


def test_a_point_well_inside_a_county_is_answered_without_building_its_geometry(
    yrd_index: GeographyIndex,
) -> None:
    # Qiandao Lake: inside Chun'an county, kilometres from any county boundary
    hazard = parse(geometry={"type": "Point", "coordinates": [119.04, 29.61]})
    assert [m.adcode for m in yrd_index.match(hazard, level=Level.county)] == ["330127"]
    assert hazard._geometry is None
    at_sea = parse(geometry={"type": "Point", "coordinates": [125.5, 29.0]})
    assert yrd_index.match(at_sea, level=Level.county) == [] and at_sea._geometry is None


def _truth(grid: CellGrid, geometries: np.ndarray) -> np.ndarray:
    """What each cell must be at most: EMPTY, one position, or MIXED where a boundary meets the cell."""
    cells = np.full((grid.rows, grid.columns), EMPTY)
    for row in range(grid.rows):
        for column in range(grid.columns):
            box = shapely.box(
                grid.west + column * grid.cell,
                grid.south + row * grid.cell,
                grid.west + (column + 1) * grid.cell,
                grid.south + (row + 1) * grid.cell,
            )
            meets = np.flatnonzero(shapely.intersects(geometries, box))
            if len(meets) == 0:
                continue
            if len(meets) == 1 and shapely.contains(geometries[meets[0]], box):
                cells[row, column] = meets[0]
            else:
                cells[row, column] = MIXED
    return cells


def test_every_cell_an_edge_crosses_is_mixed_even_without_a_vertex_in_it() -> None:
    # a long thin triangle whose edges cross many cells far from any vertex, beside a square with a hole
    geometries = np.array(
        [
            shapely.Polygon([(0.0, 0.0), (3.0, 0.37), (0.1, 0.9), (0.0, 0.0)]),
            shapely.Polygon(
                [(3.2, 0.0), (4.0, 0.0), (4.0, 0.8), (3.2, 0.8), (3.2, 0.0)],
                [[(3.4, 0.2), (3.6, 0.2), (3.6, 0.4), (3.4, 0.4), (3.4, 0.2)]],
            ),
        ],
        dtype=object,
    )
    shapely.prepare(geometries)
    grid = CellGrid(geometries, cell=0.05)
    truth = _truth(grid, geometries)
    # a cell the grid calls EMPTY or one jurisdiction's must truly be that; MIXED is always safe
    claimed = grid.owner != MIXED
    assert (grid.owner[claimed] == truth[claimed]).all()
    assert (grid.owner == 0).sum() > 50 and (grid.owner == 1).sum() > 50  # not vacuously MIXED


def test_the_grid_refuses_to_decide_a_box_that_reaches_a_mixed_cell() -> None:
    square = np.array([shapely.box(0.0, 0.0, 1.0, 1.0)], dtype=object)
    shapely.prepare(square)
    grid = CellGrid(square, cell=0.1)
    assert grid.decide(0.45, 0.45, 0.55, 0.55, 0.5, 0.5) == 0  # well inside
    assert grid.decide(0.95, 0.45, 1.3, 0.55, 0.96, 0.5) is None  # across the edge
    assert grid.decide(1.5, 1.5, 1.7, 1.7, 1.6, 1.6) == EMPTY
    assert grid.decide(5.0, 5.0, 6.0, 6.0, 5.5, 5.5) == EMPTY  # beyond the grid altogether
    assert grid.decide(0.45, 0.45, 0.45, 0.45, 0.45, 0.45) == 0


def test_a_hazard_without_a_known_extent_still_matches(yrd_index: GeographyIndex) -> None:
    hazard = Hazard(kind="geometry", geometry=shapely.Point(120.13, 30.2))
    assert [m.adcode for m in yrd_index.match(hazard, level=Level.county)] == ["330106"]
