"""GCJ-02 to WGS-84: the inverse undoes the published forward shift, and the loader applies it."""

from __future__ import annotations

import numpy as np
import shapely

from regio.risk.geography import loader
from regio.risk.geography.datum import gcj02_to_wgs84, wgs84_to_gcj02


def test_the_inverse_recovers_wgs84_points_to_a_tenth_of_a_millimetre() -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(74, 134, 5000)
    lat = rng.uniform(18, 53, 5000)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-8
    assert np.abs(back_lat - lat).max() < 1e-8


def test_the_shift_in_beijing_is_the_known_few_hundred_metres_north_east() -> None:
    # Tiananmen: GCJ-02 draws WGS-84 points about 530 m east and 155 m north of where they are.
    g_lon, g_lat = wgs84_to_gcj02(np.array([116.3975]), np.array([39.9087]))
    east_m = (g_lon[0] - 116.3975) * 111_320 * np.cos(np.radians(39.9087))
    north_m = (g_lat[0] - 39.9087) * 110_950
    assert 450 < east_m < 600 and 100 < north_m < 220


def test_points_outside_china_are_left_alone() -> None:
    lon, lat = wgs84_to_gcj02(np.array([2.35, -74.0]), np.array([48.85, 40.7]))
    assert lon.tolist() == [2.35, -74.0] and lat.tolist() == [48.85, 40.7]


def test_the_loader_stores_boundaries_shifted_back_from_the_amap_source() -> None:
    record = next(r for r in loader.read_index(["33"]) if r.adcode == "330100" and r.level == "prefecture")
    raw = shapely.from_geojson(record.path.read_text(encoding="utf-8"))
    stored = loader.read_geometry(record)
    raw_xy = shapely.get_coordinates(raw)[:50]
    stored_xy = shapely.get_coordinates(stored)[:50]
    shift = raw_xy - stored_xy
    # Hangzhou: GCJ-02 sits roughly 0.0047 degrees east and 0.0023 degrees south of WGS-84
    assert np.allclose(shift[:, 0], 0.0047, atol=0.0003)
    assert np.allclose(shift[:, 1], -0.0023, atol=0.0003)
