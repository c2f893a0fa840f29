"""Reference data shipped as files: the standard department list, provinces and Zhejiang's cities.

Loaded here (once, lazily) and handed to the pure rules in `policies` as arguments.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from regio.care.registry.policies import Places
from regio.care.registry.policies import province_of as province_of

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    catalogue_code: str  # code in 医疗机构诊疗科目名录, "" when the catalogue has none
    around_the_clock: bool
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Place:
    adcode: str
    name_zh: str
    name_en: str


def _rows(name: str) -> list[dict[str, str]]:
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@lru_cache
def departments() -> tuple[Department, ...]:
    """The standard department list, in file order."""
    return tuple(
        Department(
            code=row["code"],
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            catalogue_code=row["catalogue_code"],
            around_the_clock=row["around_the_clock"] == "yes",
            aliases=tuple(alias for alias in row["aliases"].split("|") if alias),
        )
        for row in _rows("departments.csv")
    )


@lru_cache
def departments_by_code() -> dict[str, Department]:
    """The standard departments by code."""
    return {department.code: department for department in departments()}


@lru_cache
def department_lookup() -> Mapping[str, str]:
    """Every lower-cased code, Chinese and English name and alias of the standard list, to its code."""
    lookup: dict[str, str] = {}
    for department in departments():
        names = (department.code, department.name_zh, department.name_en, *department.aliases)
        for name in names:
            lookup[name.strip().lower()] = department.code
    return lookup


def department_code_for(name: str) -> str | None:
    """The standard code for a code, Chinese or English name, or alias; None when unknown."""
    return department_lookup().get(name.strip().lower())


@lru_cache
def provinces() -> dict[str, Place]:
    """China's province-level divisions by adcode."""
    return {
        row["adcode"]: Place(row["adcode"], row["name_zh"], row["name_en"]) for row in _rows("provinces.csv")
    }


@lru_cache
def known_cities() -> dict[str, Place]:
    """Cities this build knows by name; the geography subdomain will supply the rest of China."""
    return {
        row["adcode"]: Place(row["adcode"], row["name_zh"], row["name_en"])
        for row in _rows("zhejiang_cities.csv")
    }


@lru_cache
def places() -> Places:
    """The province codes and known cities, as the adcode rule takes them."""
    return Places(provinces=frozenset(provinces()), cities=frozenset(known_cities()))


def city_name(adcode: str, language: str = "zh-CN") -> str:
    """A known city's name in a language, else its code."""
    place = known_cities().get(adcode)
    if place is None:
        return adcode
    return place.name_zh if language.startswith("zh") else place.name_en
