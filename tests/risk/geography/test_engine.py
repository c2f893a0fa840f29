"""The in-memory engine: exact geodesic circles, hierarchy, and one rebuild under concurrent requests."""

from __future__ import annotations

import asyncio

import numpy as np
import shapely

from regio.risk.geography.engine import GeographyIndex, IndexHolder
from regio.risk.geography.hazards import GEOD, from_circle, geodesic_circle, parse


def test_circle_vertices_lie_exactly_the_radius_away_on_the_ellipsoid() -> None:
    circle = geodesic_circle(120.14, 30.245, 20.0)
    xy = shapely.get_coordinates(circle)
    _, _, metres = GEOD.inv(np.full(len(xy), 120.14), np.full(len(xy), 30.245), xy[:, 0], xy[:, 1])
    assert np.abs(metres - 20_000).max() < 0.01


def test_every_county_of_a_prefecture_matches_inside_it_by_adcode(yrd_index: GeographyIndex) -> None:
    matches = yrd_index.match(parse(adcodes=["330100"]), level="county")
    counties = {
        entry.adcode for entry in yrd_index.levels["county"].entries if entry.parent_adcode == "330100"
    }
    assert {m.adcode for m in matches} == counties and all(m.distance_km == 0 for m in matches)


def test_a_circle_straddling_a_border_matches_both_sides(yrd_index: GeographyIndex) -> None:
    # Hangzhou's Yuhang and Huzhou's Deqing meet near 120.0 E 30.45 N
    matches = yrd_index.match(from_circle({"lat": 30.48, "lon": 120.0, "radius_km": 10}), level="prefecture")
    assert {m.adcode for m in matches} == {"330100", "330500"}


async def test_concurrent_requests_during_a_rebuild_build_the_index_once(yrd_index: GeographyIndex) -> None:
    holder = IndexHolder()
    builds = 0

    async def build() -> GeographyIndex:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.05)  # other requests arrive while this one builds
        return GeographyIndex(yrd_index.levels, load_id=7)

    results = await asyncio.gather(*(holder.current(7, build) for _ in range(50)))
    assert builds == 1 and all(result is results[0] for result in results)
    await holder.current(8, build)  # a newer load appeared
    assert builds == 2
