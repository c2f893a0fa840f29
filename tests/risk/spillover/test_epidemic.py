"""The epidemic model: gravity travel between census cities and a metapopulation SEIR."""

from __future__ import annotations

import numpy as np
import pytest

from regio.risk.geography.enums import Level
from regio.risk.spillover import epidemic
from regio.risk.spillover.affected import Affected

WUHAN, XIAOGAN, HUANGGANG = "420100", "420900", "421100"
FAR_AND_SMALL = ("540100", "652200", "620200", "632600")  # Lhasa, Hami, Jiayuguan, Golog


def plain(level: str, adcode: str, fallback: str) -> str:
    return fallback


def outbreak(origin: str = WUHAN, **values: float) -> dict[str, Affected]:
    found = epidemic.run(
        origin_prefecture=origin, level=Level.prefecture, severity_rank=2, values=dict(values), name=plain
    )
    return {item.adcode: item for item in found}


def default_projection(**overrides: float) -> epidemic.Projection:
    settings = {
        "origin": WUHAN,
        "initial_cases": 200.0,
        "days": 60,
        "r0": 2.5,
        "latent_days": 3.0,
        "infectious_days": 5.0,
        "travel_fraction": 0.01,
        "gravity_gamma": 2.0,
    }
    settings.update(overrides)
    return epidemic.project(**settings)  # type: ignore[arg-type]


def test_the_census_data_covers_every_province_and_wuhan_has_its_2020_population() -> None:
    table = epidemic.cities()
    assert len(table.adcodes) >= 330
    provinces = {code[:2] for code in table.adcodes}
    assert len(provinces) == 31  # every province-level division of the mainland
    wuhan = table.population[table.position[WUHAN]]
    assert wuhan == 12_327_000  # 12,326,518 at the seventh census, rounded to thousands
    assert 1.40e9 < table.population.sum() < 1.42e9  # 1,411.78 million on the mainland, less omitted units


def test_a_wuhan_outbreak_reaches_big_near_cities_before_far_small_ones() -> None:
    found = outbreak()
    near = [found[code].eta_hours or 0 for code in (XIAOGAN, HUANGGANG)]
    far = [found[code].eta_hours if code in found else float("inf") for code in FAR_AND_SMALL]
    assert max(near) < min(far)
    assert WUHAN not in found  # never the origin
    ranked = sorted(found.values(), key=lambda item: item.eta_hours or 0)
    assert {item.adcode for item in ranked[:3]} & {XIAOGAN, HUANGGANG}


def test_a_big_city_imports_before_a_small_nearer_one() -> None:
    found = outbreak()
    table = epidemic.cities()
    beijing, yangquan = table.position["110100"], table.position["140300"]
    distance = table.distance_km[table.position[WUHAN]]
    assert distance[yangquan] < distance[beijing]  # Yangquan (1.3 million) is nearer than Beijing (21.9)
    assert (found["110100"].eta_hours or 0) < (found["140300"].eta_hours or float("inf"))


def test_the_seir_conserves_every_citys_population_every_day() -> None:
    p = default_projection()
    totals = p.susceptible + p.exposed + p.infectious + p.recovered
    np.testing.assert_allclose(totals, np.broadcast_to(totals[0], totals.shape), rtol=1e-9)
    assert (p.susceptible >= 0).all() and (p.exposed >= 0).all() and (p.infectious >= 0).all()
    assert (np.diff(p.recovered.sum(axis=1)) >= -1e-6).all()  # nobody un-recovers


def test_cumulative_imports_never_fall_and_first_days_come_later_for_a_higher_threshold() -> None:
    p = default_projection()
    assert (p.imported >= 0).all()
    cumulative = np.cumsum(p.imported, axis=0)
    assert (np.diff(cumulative, axis=0) >= 0).all()
    one, five = epidemic.first_days(p.imported, 1.0), epidemic.first_days(p.imported, 5.0)
    both = (one > 0) & (five > 0)
    assert both.sum() > 50 and (five[both] >= one[both]).all()


def test_a_more_contagious_disease_arrives_sooner() -> None:
    slow, fast = outbreak(r0=1.5), outbreak(r0=3.5)
    assert (fast["110100"].eta_hours or 0) < (slow["110100"].eta_hours or float("inf"))
    assert len(fast) >= len(slow)


def test_a_disease_below_r0_of_one_reaches_few_places() -> None:
    dying = outbreak(r0=0.5, initial_cases=10.0)
    assert len(dying) < 5


def test_eta_is_whole_days_and_confidence_falls_with_time() -> None:
    found = sorted(outbreak().values(), key=lambda item: item.eta_hours or 0)
    assert all((item.eta_hours or 0) % 24 == 0 and (item.eta_hours or 0) > 0 for item in found)
    confidences = [item.confidence for item in found]
    assert confidences == sorted(confidences, reverse=True)
    assert found[0].reason == "epidemic.imported" and "首例输入" in found[0].reason_zh


def test_province_level_keeps_each_provinces_earliest_city() -> None:
    found = epidemic.run(
        origin_prefecture=WUHAN, level=Level.province, severity_rank=2, values={}, name=plain
    )
    by_code = {item.adcode: item for item in found}
    assert "430000" in by_code and all(item.level == "province" for item in found)
    cities = outbreak()
    hunan = min(item.eta_hours or 0 for code, item in cities.items() if code.startswith("43"))
    assert by_code["430000"].eta_hours == hunan


def test_gravity_travel_is_symmetric_and_near_cities_exchange_more() -> None:
    trips = epidemic.travel(2.0, 0.01)
    np.testing.assert_allclose(trips, trips.T)
    table = epidemic.cities()
    w, x, lhasa = (table.position[c] for c in (WUHAN, XIAOGAN, "540100"))
    assert trips[w, x] > 100 * trips[w, lhasa]
    share = trips.sum() / table.population.sum()
    assert share == pytest.approx(0.01, rel=0.05)
