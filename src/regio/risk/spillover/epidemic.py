"""Epidemic model: a gravity model of travel between prefecture-level cities and a metapopulation SEIR.

Travel: T_ij = k P_i^a P_j^b / d_ij^gamma trips a day between cities i and j (a = b = 1, so
T_ij = T_ji and every city keeps its population), with P the 2020 census populations
(data/populations.json) and d the great-circle distance between points inside the cities' boundaries
(at least MIN_DISTANCE_KM). k is set so that, on average over the country's people, a share
`travel_fraction` (default 1%) of a city's residents travel to another prefecture each day.
gamma = 2 is the classic gravity exponent (e.g. Viboud et al., Science 2006, for influenza spread
by work flows); both are parameters, not fitted values: the model ranks where and when an outbreak
is likely to be imported, it does not forecast case counts.

SEIR per city in daily steps: S' = -beta S I / N, E' = beta S I / N - E / latent, I' = E / latent
- I / infectious, R' = I / infectious, with beta = R0 / infectious; then each compartment travels
along T (symmetric, so S + E + I + R of every city is conserved exactly). Imported cases of city j
on a day are the exposed and infectious travellers arriving there; the first expected case is the
first day on which cumulative imports reach `first_case_threshold` (default 1 expected person).
Arrival = that day x 24 h; confidence falls with the time it takes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from regio.risk.geography.enums import Level
from regio.risk.spillover.affected import Affected
from regio.risk.spillover.errors import NoCensusCity

POPULATIONS_FILE = Path(__file__).resolve().parent / "data" / "populations.json"
MIN_DISTANCE_KM = 20.0
EARTH_RADIUS_KM = 6371.0
DEFAULTS: dict[str, float] = {
    "days": 60,
    "r0": 2.5,
    "latent_days": 3.0,
    "infectious_days": 5.0,
    "travel_fraction": 0.01,
    "gravity_gamma": 2.0,
    "first_case_threshold": 1.0,
}
# Infected people at the origin when the report gives no number, by severity rank (1 highest).
DEFAULT_INITIAL_CASES = {1: 1000.0, 2: 200.0, 3: 50.0, 4: 10.0}
CONFIDENCE_START, CONFIDENCE_DAYS, MIN_CONFIDENCE = 0.7, 30.0, 0.05
MAX_OUT_SHARE = 0.3  # no city sends more than this share of its people away in a day

Namer = Callable[[str, str, str], str]


@dataclass(frozen=True)
class Cities:
    adcodes: tuple[str, ...]
    names: tuple[str, ...]
    population: np.ndarray  # people
    lon: np.ndarray
    lat: np.ndarray
    distance_km: np.ndarray  # (n, n)
    position: dict[str, int]


@lru_cache(maxsize=1)
def cities() -> Cities:
    data = json.loads(POPULATIONS_FILE.read_text(encoding="utf-8"))["cities"]
    lon = np.array([c["lon"] for c in data], dtype=float)
    lat = np.array([c["lat"] for c in data], dtype=float)
    phi, lam = np.radians(lat), np.radians(lon)
    dphi = phi[:, None] - phi[None, :]
    dlam = lam[:, None] - lam[None, :]
    h = np.sin(dphi / 2) ** 2 + np.cos(phi[:, None]) * np.cos(phi[None, :]) * np.sin(dlam / 2) ** 2
    distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    adcodes = tuple(c["adcode"] for c in data)
    return Cities(
        adcodes=adcodes,
        names=tuple(c["name"] for c in data),
        population=np.array([c["population"] for c in data], dtype=float),
        lon=lon,
        lat=lat,
        distance_km=distance,
        position={code: i for i, code in enumerate(adcodes)},
    )


def seat_of(adcode: str) -> tuple[float, float] | None:
    """A point inside the prefecture (WGS-84), if the census data lists it."""
    table = cities()
    i = table.position.get(adcode)
    return None if i is None else (float(table.lon[i]), float(table.lat[i]))


@lru_cache(maxsize=16)
def travel(gamma: float, travel_fraction: float) -> np.ndarray:
    """Daily trips T_ij between cities (symmetric, zero diagonal)."""
    table = cities()
    p = table.population
    d = np.maximum(table.distance_km, MIN_DISTANCE_KM)
    raw = np.outer(p, p) / d**gamma
    np.fill_diagonal(raw, 0.0)
    k = travel_fraction * p.sum() / raw.sum() if raw.sum() > 0 else 0.0
    trips = k * raw
    # a pair of tiny, adjacent cities must not empty each other in a day
    share = trips.sum(axis=1) / p
    scale = np.minimum(1.0, MAX_OUT_SHARE / np.maximum(share, 1e-12))
    trips = trips * np.minimum(scale[:, None], scale[None, :])
    trips.setflags(write=False)
    return trips


@dataclass(frozen=True)
class Projection:
    susceptible: np.ndarray  # (days + 1, n)
    exposed: np.ndarray
    infectious: np.ndarray
    recovered: np.ndarray
    imported: np.ndarray  # (days, n): expected infected travellers arriving on each day


def project(
    *,
    origin: str,
    initial_cases: float,
    days: int,
    r0: float,
    latent_days: float,
    infectious_days: float,
    travel_fraction: float,
    gravity_gamma: float,
) -> Projection:
    """The metapopulation SEIR from `initial_cases` infectious people at the origin city."""
    table = cities()
    n = len(table.adcodes)
    trips = travel(gravity_gamma, travel_fraction)
    out_share = trips / table.population[:, None]  # share of city i's people going to j today
    stay = 1.0 - out_share.sum(axis=1)
    beta, sigma, gamma = r0 / infectious_days, 1.0 / latent_days, 1.0 / infectious_days
    state = np.zeros((4, n))  # S, E, I, R by city
    state[0] = table.population
    o = table.position[origin]
    seeded = min(initial_cases, state[0, o])
    state[0, o] -= seeded
    state[2, o] += seeded
    history = np.zeros((days + 1, 4, n))
    imported = np.zeros((days, n))
    history[0] = state
    for day in range(days):
        s, e, i, _ = state
        total = state.sum(axis=0)
        infections = np.minimum(s, beta * s * i / total)
        onsets = np.minimum(e, sigma * e)
        recoveries = np.minimum(i, gamma * i)
        state = state + np.stack([-infections, infections - onsets, onsets - recoveries, recoveries])
        arriving = state @ out_share  # every compartment travels alike
        imported[day] = arriving[1] + arriving[2]
        state = state * stay + arriving
        history[day + 1] = state
    return Projection(history[:, 0], history[:, 1], history[:, 2], history[:, 3], imported)


def first_days(imported: np.ndarray, threshold: float) -> np.ndarray:
    """For each city, the first day (1-based) cumulative imports reach the threshold; 0 if never."""
    reached = np.cumsum(imported, axis=0) >= threshold
    first = np.argmax(reached, axis=0) + 1
    first[~reached.any(axis=0)] = 0
    return np.asarray(first)


@lru_cache(maxsize=128)
def arrivals(
    origin: str,
    initial_cases: float,
    days: int,
    r0: float,
    latent_days: float,
    infectious_days: float,
    travel_fraction: float,
    gravity_gamma: float,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """First-case days and total imports per city; the same report's update reuses them."""
    projection = project(
        origin=origin,
        initial_cases=initial_cases,
        days=days,
        r0=r0,
        latent_days=latent_days,
        infectious_days=infectious_days,
        travel_fraction=travel_fraction,
        gravity_gamma=gravity_gamma,
    )
    first = first_days(projection.imported, threshold)
    total = projection.imported.sum(axis=0)
    first.setflags(write=False)
    total.setflags(write=False)
    return first, total


def run(
    *, origin_prefecture: str, level: Level, severity_rank: int, values: dict[str, Any], name: Namer
) -> list[Affected]:
    """The cities expected to import a first case within `days`, with that day as the arrival."""
    table = cities()
    if origin_prefecture not in table.position:
        raise NoCensusCity(adcode=origin_prefecture)
    setting = {key: values.get(key, default) for key, default in DEFAULTS.items()}
    days = int(setting["days"])
    first, total = arrivals(
        origin_prefecture,
        float(values.get("initial_cases", DEFAULT_INITIAL_CASES.get(severity_rank, 50.0))),
        days,
        float(setting["r0"]),
        float(setting["latent_days"]),
        float(setting["infectious_days"]),
        float(setting["travel_fraction"]),
        float(setting["gravity_gamma"]),
        float(setting["first_case_threshold"]),
    )
    origin = table.position[origin_prefecture]
    found: dict[str, Affected] = {}
    for j in np.flatnonzero(first).tolist():
        if j == origin:
            continue
        day = int(first[j])
        confidence = round(max(MIN_CONFIDENCE, CONFIDENCE_START * math.exp(-day / CONFIDENCE_DAYS)), 3)
        adcode, out_level = table.adcodes[j], Level.prefecture
        fallback = table.names[j]
        if level == Level.province:
            adcode, out_level, fallback = adcode[:2] + "0000", Level.province, adcode[:2] + "0000"
        current = found.get(adcode)
        if current is not None and current.eta_hours is not None and current.eta_hours <= day * 24.0:
            continue
        imports = float(total[j])
        found[adcode] = Affected(
            adcode=adcode,
            name=name(out_level.value, adcode, fallback),
            level=out_level.value,
            reason="epidemic.imported",
            eta_hours=day * 24.0,
            confidence=confidence,
            model="epidemic",
            reason_zh=f"经人员流动预计第 {day} 天出现首例输入病例；{days} 天内累计输入约 {imports:.3g} 例",
            reason_en=(
                f"Travel brings a first expected imported case on day {day};"
                f" about {imports:.3g} imported within {days} days"
            ),
        )
    return list(found.values())
