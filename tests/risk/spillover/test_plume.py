"""The Gaussian plume: textbook dispersion, a footprint that follows the wind and its strength."""

from __future__ import annotations

import math

import pytest
import shapely

from regio.risk.geography.engine import GeographyIndex
from regio.risk.geography.enums import Level
from regio.risk.spillover import plume

# Turner's Workbook of Atmospheric Dispersion Estimates (1970), Figures 3-2 and 3-3, read at
# 1 km downwind: sigma_y and sigma_z in metres for classes A-F. Briggs' open-country formulas fit
# these curves; class A's sigma_z (about 450 m) grows so fast that Briggs capped it, so it is not
# compared.
TURNER_1KM_SIGMA_Y = {"A": 213, "B": 156, "C": 104, "D": 68, "E": 50, "F": 34}
TURNER_1KM_SIGMA_Z = {"B": 110, "C": 61, "D": 32, "E": 22, "F": 14}

WUHAN = (114.30, 30.59)  # near the city centre, east of the Han's mouth
WEST, EAST = 270.0, 90.0  # wind from the west blows east
EZHOU, XIAOGAN, WUHAN_CODE = "420700", "420900", "420100"


@pytest.mark.parametrize("stability", list(TURNER_1KM_SIGMA_Y))
def test_sigma_y_at_one_kilometre_matches_the_textbook_curves(stability: str) -> None:
    assert float(plume.sigma_y(stability, 1000.0)) == pytest.approx(TURNER_1KM_SIGMA_Y[stability], rel=0.2)


@pytest.mark.parametrize("stability", list(TURNER_1KM_SIGMA_Z))
def test_sigma_z_at_one_kilometre_matches_the_textbook_curves(stability: str) -> None:
    assert float(plume.sigma_z(stability, 1000.0)) == pytest.approx(TURNER_1KM_SIGMA_Z[stability], rel=0.25)


def test_briggs_coefficients_as_published() -> None:
    # Hanna, Briggs and Hosker (1982), Table 4.5, class D at 10 km: 0.08x/sqrt(2), 0.06x/sqrt(16)
    assert float(plume.sigma_y("D", 10_000.0)) == pytest.approx(800 / math.sqrt(2), rel=1e-9)
    assert float(plume.sigma_z("D", 10_000.0)) == pytest.approx(150.0, rel=1e-9)
    assert float(plume.sigma_z("F", 10_000.0)) == pytest.approx(160 / 4.0, rel=1e-9)


def test_unstable_air_spreads_a_plume_wider_than_stable_air() -> None:
    for x in (200.0, 1000.0, 5000.0):
        ys = [float(plume.sigma_y(s, x)) for s in "ABCDEF"]
        zs = [float(plume.sigma_z(s, x)) for s in "ABCDEF"]
        assert ys == sorted(ys, reverse=True) and zs == sorted(zs, reverse=True)


def test_centreline_concentration_follows_the_formula_and_an_elevated_source_is_lower_near_by() -> None:
    q, u, x = 100.0, 5.0, 2000.0
    sy, sz = float(plume.sigma_y("D", x)), float(plume.sigma_z("D", x))
    expected = q / (math.pi * sy * sz * u)
    assert float(plume.centreline(x, source_g_s=q, wind_ms=u, stability="D")) == pytest.approx(expected)
    high = float(plume.centreline(x, source_g_s=q, wind_ms=u, stability="D", height_m=50.0))
    assert high == pytest.approx(expected * math.exp(-(50.0**2) / (2 * sz**2)))
    assert high < expected


def reach(**overrides: float | str) -> float:
    settings: dict[str, float | str] = {
        "source_g_s": 1000.0,
        "wind_ms": 3.0,
        "stability": "D",
        "threshold_mg_m3": 1.0,
        "height_m": 0.0,
        "max_km": 200.0,
    }
    settings.update(overrides)
    return plume.reach_km(**settings)


def test_the_footprint_grows_with_source_strength_and_shrinks_with_the_threshold() -> None:
    assert reach(source_g_s=100.0) < reach(source_g_s=1000.0) < reach(source_g_s=10_000.0)
    assert reach(threshold_mg_m3=10.0) < reach(threshold_mg_m3=1.0) < reach(threshold_mg_m3=0.1)
    assert reach(stability="B") < reach(stability="F")  # stable night air carries it furthest
    assert reach(source_g_s=0.001) == 0.0


def test_the_footprint_lies_downwind_of_the_source() -> None:
    xs, half = plume.profile(
        source_g_s=1000.0, wind_ms=3.0, stability="D", threshold_mg_m3=1.0, height_m=0.0, max_km=100.0
    )
    from_west = plume.footprint_local(xs, half, WEST)
    centre = from_west.centroid
    assert centre.x > 1000.0 and abs(centre.y) < 0.05 * centre.x  # east of the source
    from_north = plume.footprint_local(xs, half, 0.0)
    assert from_north.centroid.y < -1000.0  # a north wind carries it south
    assert from_west.area == pytest.approx(from_north.area, rel=1e-6)


def run(index: GeographyIndex, **values: float | str) -> dict[str, plume.Affected]:
    found = plume.run(index, source=WUHAN, level=Level.prefecture, severity_rank=2, values=dict(values))
    return {item.adcode: item for item in found}


def test_a_west_wind_carries_a_wuhan_leak_to_ezhou_and_not_to_xiaogan(hubei_index: GeographyIndex) -> None:
    east = run(hubei_index, wind_speed_ms=3.0, wind_from_deg=WEST, source_g_s=5000.0)
    assert EZHOU in east and XIAOGAN not in east
    west = run(hubei_index, wind_speed_ms=3.0, wind_from_deg=EAST, source_g_s=5000.0)
    assert XIAOGAN in west and EZHOU not in west
    # arrival is distance over wind speed: the faster wind brings it sooner
    faster = run(hubei_index, wind_speed_ms=6.0, wind_from_deg=WEST, source_g_s=10_000.0)
    assert (faster[EZHOU].eta_hours or 0) < (east[EZHOU].eta_hours or 0)
    km = float(east[EZHOU].reason_en.split("About ")[1].split(" km")[0])
    assert east[EZHOU].eta_hours == pytest.approx(km / 3.0 / 3.6, abs=0.02)


def test_beyond_ten_kilometres_the_curves_are_extrapolated_with_low_confidence(
    hubei_index: GeographyIndex,
) -> None:
    found = run(hubei_index, wind_speed_ms=3.0, wind_from_deg=WEST, source_g_s=5000.0)
    near, far = found[WUHAN_CODE], found[EZHOU]
    assert near.reason == "plume.downwind" and near.confidence == plume.CONFIDENCE_MEASURED
    assert far.reason == "plume.extrapolated" and far.confidence < 0.5 * near.confidence
    assert "extrapolated" in far.reason_en and "外推" in far.reason_zh


def test_without_a_wind_every_direction_counts_and_the_defaults_are_flagged(
    hubei_index: GeographyIndex,
) -> None:
    found = run(hubei_index, source_g_s=5000.0)
    assert {EZHOU, XIAOGAN} <= set(found)
    assert all(item.reason == "plume.any_direction" for item in found.values())
    assert all(item.confidence < plume.CONFIDENCE_DEFAULTED for item in found.values())
    assert all("defaults used" in item.reason_en for item in found.values())


def test_a_weak_source_stays_inside_the_origin(hubei_index: GeographyIndex) -> None:
    found = run(hubei_index, wind_speed_ms=5.0, wind_from_deg=WEST, source_g_s=1.0)
    assert set(found) <= {WUHAN_CODE}


def test_the_footprint_is_a_valid_polygon_in_degrees_around_the_source() -> None:
    xs, half = plume.profile(
        source_g_s=1000.0, wind_ms=3.0, stability="D", threshold_mg_m3=1.0, height_m=0.0, max_km=100.0
    )
    local = plume.footprint_local(xs, half, WEST)
    assert local.is_valid and isinstance(local, shapely.Polygon)
