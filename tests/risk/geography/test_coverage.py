"""A prefecture or province is answered through its children only when it is exactly their union."""

from __future__ import annotations

import numpy as np
import shapely

from regio.risk.geography.coverage import exact_unions
from regio.risk.geography.engine import GeographyIndex
from regio.risk.geography.enums import Level


def _array(*geometries: shapely.Geometry) -> np.ndarray:
    return np.array(geometries, dtype=object)


WEST = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)])
EAST = shapely.Polygon(
    [(1, 1), (1, 0), (2, 0), (2, 1), (1, 1)]
)  # drawn clockwise: orientation must not matter


def test_two_squares_sharing_an_edge_make_up_the_rectangle() -> None:
    parent = shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1), (0, 0)])
    assert exact_unions(_array(WEST, EAST), np.array([0, 0]), _array(parent)).tolist() == [True]


def test_a_parent_differing_by_one_vertex_or_missing_a_child_is_not_covered() -> None:
    moved = shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 1.000001), (1, 1), (0, 1), (0, 0)])
    assert exact_unions(_array(WEST, EAST), np.array([0, 0]), _array(moved)).tolist() == [False]
    rectangle = shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1), (0, 0)])
    assert exact_unions(_array(WEST, EAST), np.array([0, -1]), _array(rectangle)).tolist() == [False]
    assert exact_unions(_array(WEST, EAST), np.array([-1, -1]), _array(rectangle)).tolist() == [False]


def test_a_t_junction_leaves_the_parent_its_own_index_even_though_the_union_is_equal() -> None:
    # the western square has a vertex at (1, 0.5) on the shared edge that the eastern one lacks
    west = shapely.Polygon([(0, 0), (1, 0), (1, 0.5), (1, 1), (0, 1), (0, 0)])
    parent = shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1), (0, 0)])
    assert shapely.equals(shapely.union_all([west, EAST]), parent)
    assert exact_unions(_array(west, EAST), np.array([0, 0]), _array(parent)).tolist() == [False]


def test_holes_and_islands_are_counted_with_their_orientation() -> None:
    # a ring-shaped county around a lake county: together the full square, with no hole left
    outer = shapely.Polygon(
        [(0, 0), (3, 0), (3, 3), (0, 3), (0, 0)], [[(1, 1), (2, 1), (2, 2), (1, 2), (1, 1)]]
    )
    lake = shapely.Polygon([(1, 1), (2, 1), (2, 2), (1, 2), (1, 1)])
    island = shapely.Polygon([(5, 5), (6, 5), (6, 6), (5, 5)])
    parent = shapely.MultiPolygon([shapely.Polygon([(0, 0), (3, 0), (3, 3), (0, 3), (0, 0)]), island])
    children = _array(outer, shapely.MultiPolygon([lake, island]))
    assert exact_unions(children, np.array([0, 0]), _array(parent)).tolist() == [True]
    assert exact_unions(_array(outer), np.array([0]), _array(parent)).tolist() == [False]


def test_every_covered_prefecture_and_province_of_the_delta_equals_the_union_of_its_children(
    yrd_index: GeographyIndex,
) -> None:
    checked = 0
    for level in (Level.prefecture, Level.province):
        index = yrd_index.levels[level]
        children = index.children
        assert children is not None and index.covered.sum() > len(index) // 2  # most are covered
        for position in np.flatnonzero(index.covered):
            mine = children.geometries[index.child_parent == position]
            assert shapely.equals(shapely.union_all(mine), index.geometries[position])
            checked += 1
    assert checked > 20
