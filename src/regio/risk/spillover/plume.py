"""Wind model: a Gaussian plume with Pasquill-Gifford stability classes.

Dispersion coefficients are Briggs' (1973) fits for open country, as tabulated in Hanna, Briggs
and Hosker, "Handbook on Atmospheric Diffusion" (1982), Table 4.5, and used in EPA models:
sigma_y = a x (1 + 0.0001 x)^-1/2 and sigma_z per class (x in metres, 100 m to 10 km). Turner's
"Workbook of Atmospheric Dispersion Estimates" (1970) gives the classic curves they fit.

Ground-level concentration of a continuous point source of strength Q (g/s) at height H in a
wind u (m/s), with reflection at the ground:
    C(x, y) = Q / (pi sigma_y sigma_z u) * exp(-y^2 / 2 sigma_y^2) * exp(-H^2 / 2 sigma_z^2)
The footprint is where C >= the threshold: half-width y(x) = sigma_y sqrt(2 ln(C(x, 0) / T)).
It is drawn in an azimuthal equidistant projection centred on the source, turned to the wind
(meteorological convention: the direction the wind blows FROM, clockwise from north), and
matched against the boundaries. Arrival = downwind distance / wind speed. Beyond 10 km the curves
are extrapolated: the footprint goes on, with falling confidence, and the reason says so.
Without a wind direction every direction is considered (a disc of the plume's reach).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from regio.risk.geography.engine import GeographyIndex
from regio.risk.geography.enums import Level
from regio.risk.geography.hazards import Hazard
from regio.risk.spillover.affected import Affected
from regio.risk.spillover.enums import Stability

VALID_KM = 10.0  # the range the dispersion curves were fitted over
DEFAULT_WIND_MS = 3.0
DEFAULT_STABILITY = Stability.D  # neutral: overcast or windy, day or night
DEFAULT_THRESHOLD_MG_M3 = 1.0
DEFAULT_MAX_KM = 100.0
# Source strength (g/s) assumed by severity rank when the report gives none.
DEFAULT_SOURCE_G_S = {1: 10_000.0, 2: 2_000.0, 3: 500.0, 4: 100.0}
CONFIDENCE_MEASURED, CONFIDENCE_DEFAULTED = 0.75, 0.35
EXTRAPOLATION_KM = 30.0  # beyond VALID_KM, confidence falls by e every this many km
MIN_CONFIDENCE = 0.05
GRID_POINTS = 400

# Briggs (1973) open-country coefficients: sigma_y = A x (1 + 1e-4 x)^-1/2;
# sigma_z = B x (1 + C x)^P
_SIGMA_Y = {"A": 0.22, "B": 0.16, "C": 0.11, "D": 0.08, "E": 0.06, "F": 0.04}
_SIGMA_Z = {
    "A": (0.20, 0.0, 0.0),
    "B": (0.12, 0.0, 0.0),
    "C": (0.08, 0.0002, -0.5),
    "D": (0.06, 0.0015, -0.5),
    "E": (0.03, 0.0003, -1.0),
    "F": (0.016, 0.0003, -1.0),
}


@lru_cache(maxsize=256)
def _aeqd(lon: float, lat: float) -> tuple[Transformer, Transformer]:
    """Forward and inverse transformers of an azimuthal equidistant projection centred on the source."""
    local = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"
    return (
        Transformer.from_crs("EPSG:4326", local, always_xy=True),
        Transformer.from_crs(local, "EPSG:4326", always_xy=True),
    )


def sigma_y(stability: str, x: Any) -> Any:
    """Horizontal dispersion coefficient (m) at x metres downwind."""
    x = np.asarray(x, dtype=float)
    return _SIGMA_Y[stability] * x / np.sqrt(1.0 + 0.0001 * x)


def sigma_z(stability: str, x: Any) -> Any:
    """Vertical dispersion coefficient (m) at x metres downwind."""
    x = np.asarray(x, dtype=float)
    b, c, p = _SIGMA_Z[stability]
    return b * x * (1.0 + c * x) ** p


def centreline(x: Any, *, source_g_s: float, wind_ms: float, stability: str, height_m: float = 0.0) -> Any:
    """Ground-level concentration on the plume's axis (g/m3) at x metres downwind."""
    sy, sz = sigma_y(stability, x), sigma_z(stability, x)
    return source_g_s / (math.pi * sy * sz * wind_ms) * np.exp(-(height_m**2) / (2.0 * sz**2))


def profile(
    *,
    source_g_s: float,
    wind_ms: float,
    stability: str,
    threshold_mg_m3: float,
    height_m: float,
    max_km: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Downwind distances (m) where the threshold is exceeded and the footprint's half-width there."""
    x = np.geomspace(10.0, max_km * 1000.0, GRID_POINTS)
    c = centreline(x, source_g_s=source_g_s, wind_ms=wind_ms, stability=stability, height_m=height_m)
    ratio = c * 1000.0 / threshold_mg_m3
    inside = ratio >= 1.0
    if not inside.any():
        return np.empty(0), np.empty(0)
    first, last = int(np.argmax(inside)), len(inside) - 1 - int(np.argmax(inside[::-1]))
    xs = x[first : last + 1]
    half = sigma_y(stability, xs) * np.sqrt(2.0 * np.log(np.maximum(ratio[first : last + 1], 1.0)))
    return xs, half


def reach_km(**kwargs: Any) -> float:
    """How far downwind the threshold is exceeded (0 when nowhere)."""
    xs, _ = profile(**kwargs)
    return float(xs[-1]) / 1000.0 if xs.size else 0.0


def footprint_local(xs: np.ndarray, half: np.ndarray, wind_from_deg: float | None) -> shapely.Geometry:
    """The footprint in metres around the source (x east, y north), turned to the wind."""
    if xs.size == 0:
        return shapely.Polygon()
    if wind_from_deg is None:
        return shapely.Point(0.0, 0.0).buffer(float(xs[-1]), quad_segs=32)
    along = np.concatenate([[xs[0]], xs, [xs[-1]], xs[::-1]])
    across = np.concatenate([[0.0], half, [0.0], -half[::-1]])
    bearing = math.radians((wind_from_deg + 180.0) % 360.0)  # where the plume travels
    east = along * math.sin(bearing) + across * math.cos(bearing)
    north = along * math.cos(bearing) - across * math.sin(bearing)
    polygon = shapely.Polygon(np.column_stack([east, north]))
    return polygon if polygon.is_valid else shapely.make_valid(polygon)


def _downwind(points: np.ndarray, wind_from_deg: float | None) -> np.ndarray:
    if wind_from_deg is None:
        return np.hypot(points[:, 0], points[:, 1])
    bearing = math.radians((wind_from_deg + 180.0) % 360.0)
    return points[:, 0] * math.sin(bearing) + points[:, 1] * math.cos(bearing)


def run(
    index: GeographyIndex,
    *,
    source: tuple[float, float],
    level: Level,
    severity_rank: int,
    values: dict[str, Any],
) -> list[Affected]:
    """The jurisdictions the footprint reaches, with arrival = entry distance / wind speed."""
    defaulted = [name for name in ("wind_speed_ms", "wind_from_deg") if name not in values]
    wind = values.get("wind_speed_ms", DEFAULT_WIND_MS)
    direction = values.get("wind_from_deg")
    stability = values.get("stability", DEFAULT_STABILITY.value)
    settings = {
        "source_g_s": values.get("source_g_s", DEFAULT_SOURCE_G_S.get(severity_rank, 500.0)),
        "wind_ms": wind,
        "stability": stability,
        "threshold_mg_m3": values.get("threshold_mg_m3", DEFAULT_THRESHOLD_MG_M3),
        "height_m": values.get("release_height_m", 0.0),
        "max_km": values.get("max_km", DEFAULT_MAX_KM),
    }
    xs, half = profile(**settings)
    local = footprint_local(xs, half, direction)
    if local.is_empty:
        return []
    lon, lat = round(source[0], 6), round(source[1], 6)
    forward, inverse = _aeqd(lon, lat)
    footprint = shapely.make_valid(
        shapely.transform(local, lambda c: np.column_stack(inverse.transform(c[:, 0], c[:, 1])))
    )
    base = CONFIDENCE_DEFAULTED if defaulted else CONFIDENCE_MEASURED
    found = []
    for match in index.match(Hazard(kind="geometry", geometry=footprint), level=level):
        boundary = index.geometry(Level(match.level), match.adcode)
        piece = shapely.intersection(footprint, boundary) if boundary is not None else footprint
        coords = shapely.get_coordinates(piece)
        if not len(coords):
            continue
        if boundary is not None and shapely.intersects(boundary, shapely.Point(lon, lat)):
            metres = 0.0
        else:
            x, y = forward.transform(coords[:, 0], coords[:, 1])
            metres = float(max(0.0, np.min(_downwind(np.column_stack([x, y]), direction))))
        km = metres / 1000.0
        peak = (
            float(
                centreline(
                    max(metres, 10.0),
                    source_g_s=settings["source_g_s"],
                    wind_ms=wind,
                    stability=stability,
                    height_m=settings["height_m"],
                )
            )
            * 1000.0
        )
        confidence = base if km <= VALID_KM else base * math.exp(-(km - VALID_KM) / EXTRAPOLATION_KM)
        if direction is None:
            confidence *= 0.5
        confidence = round(max(MIN_CONFIDENCE, confidence), 3)
        hours = round(metres / wind / 3600.0, 2)
        found.append(
            _affected(
                match.adcode,
                match.name,
                match.level,
                km,
                hours,
                confidence,
                peak,
                stability,
                direction,
                defaulted,
            )
        )
    return found


def _affected(
    adcode: str,
    name: str,
    level: str,
    km: float,
    hours: float,
    confidence: float,
    peak_mg_m3: float,
    stability: str,
    direction: float | None,
    defaulted: list[str],
) -> Affected:
    extrapolated = km > VALID_KM
    if direction is None:
        reason = "plume.any_direction"
        zh = f"风向未知，按各方向估计：距源约 {km:.1f} 公里处浓度可达阈值"
        en = f"Wind direction unknown, every direction considered: the threshold is reached {km:.1f} km from the source"
    elif extrapolated:
        reason = "plume.extrapolated"
        zh = f"位于下风向约 {km:.1f} 公里，超出扩散曲线有效范围（{VALID_KM:g} 公里），为外推估计"
        en = (
            f"About {km:.1f} km downwind, beyond the dispersion curves' valid range ({VALID_KM:g} km):"
            " extrapolated"
        )
    else:
        reason = "plume.downwind"
        zh = f"位于下风向约 {km:.1f} 公里"
        en = f"About {km:.1f} km downwind"
    zh += f"，稳定度 {stability} 类，轴线浓度约 {peak_mg_m3:.3g} mg/m³"
    en += f"; stability class {stability}, centreline concentration about {peak_mg_m3:.3g} mg/m³"
    if defaulted:
        zh += f"；未提供 {'、'.join(defaulted)}，采用默认值，置信度低"
        en += f"; {', '.join(defaulted)} not given, defaults used: low confidence"
    return Affected(
        adcode=adcode,
        name=name,
        level=level,
        reason=reason,
        eta_hours=hours,
        confidence=confidence,
        model="plume",
        reason_zh=zh,
        reason_en=en,
    )
