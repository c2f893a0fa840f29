"""GCJ-02 ("Mars coordinates", 火星坐标) to WGS-84, by iterating the published forward transform.

GCJ-02 is WGS-84 with a deliberate, smooth, position-dependent offset (100-700 m in China) that
Chinese map providers, Amap among them, must apply. The forward formula (WGS-84 to GCJ-02) is
public: Wikipedia, "Restrictions on geographic data in China", section "GCJ-02", describes it as a
polynomial-plus-sine shift of the offsets from (105 E, 35 N), scaled to degrees on the Krasovsky
1940 ellipsoid (a = 6378245 m, e^2 = 0.00669342162296594323). No closed-form inverse exists, but
the shift changes slowly with position, so the fixed-point iteration

    w0 = g;   w(k+1) = w(k) - (forward(w(k)) - g)

converges to the WGS-84 point whose GCJ-02 image is g; a few steps reach 1e-9 degrees (0.1 mm).
Everything is vectorised over numpy arrays so whole boundaries convert at once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_A = 6378245.0
_EE = 0.00669342162296594323
_PI = np.pi

# The transform is defined only inside this rough box around China; outside it points are unchanged.
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)

Array = NDArray[np.float64]


def _shift_lat(x: Array, y: Array) -> Array:
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * _PI) + 20.0 * np.sin(2.0 * x * _PI)) * 2.0 / 3.0
    out += (20.0 * np.sin(y * _PI) + 40.0 * np.sin(y / 3.0 * _PI)) * 2.0 / 3.0
    out += (160.0 * np.sin(y / 12.0 * _PI) + 320.0 * np.sin(y * _PI / 30.0)) * 2.0 / 3.0
    return out


def _shift_lon(x: Array, y: Array) -> Array:
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * _PI) + 20.0 * np.sin(2.0 * x * _PI)) * 2.0 / 3.0
    out += (20.0 * np.sin(x * _PI) + 40.0 * np.sin(x / 3.0 * _PI)) * 2.0 / 3.0
    out += (150.0 * np.sin(x / 12.0 * _PI) + 300.0 * np.sin(x / 30.0 * _PI)) * 2.0 / 3.0
    return out


def _in_china(lon: Array, lat: Array) -> NDArray[np.bool_]:
    west, south, east, north = CHINA_BOX
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def wgs84_to_gcj02(lon: Array, lat: Array) -> tuple[Array, Array]:
    """The published forward transform: where a map provider in China draws a WGS-84 point."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    d_lat = _shift_lat(lon - 105.0, lat - 35.0)
    d_lon = _shift_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * _PI
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * _PI)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * _PI)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def gcj02_to_wgs84(
    lon: Array, lat: Array, *, tolerance_deg: float = 1e-9, max_iterations: int = 30
) -> tuple[Array, Array]:
    """The WGS-84 points whose GCJ-02 images are the given points (iterative inverse)."""
    g_lon = np.asarray(lon, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iterations):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon -= e_lon
        w_lat -= e_lat
        if e_lon.size == 0 or max(np.abs(e_lon).max(), np.abs(e_lat).max()) < tolerance_deg:
            break
    return w_lon, w_lat


def gcj02_to_wgs84_coords(coords: Array) -> Array:
    """An (n, 2) lon/lat array in GCJ-02 as WGS-84; the shape shapely.transform hands over."""
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])
