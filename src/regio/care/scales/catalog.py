"""Scales as data: each file under data/ (and in REGIO_SCALES_EXTRA_DIR) is one questionnaire.

A scale file names its items in Chinese and English, its answer options, its severity bands
and its flags ("item 9 above 0 is urgent"), so a further scale is a file, not code. Files are
checked when loaded: bands must cover every possible score exactly once, flags must name items.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
CRISIS_FILE = DATA_DIR / "crisis.json"
SCALE_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class ScaleFileError(ValueError):
    """A scale file that cannot be used; raised at load, never while scoring someone."""


@dataclass(frozen=True, slots=True)
class Option:
    value: int
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Item:
    link_id: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Band:
    low: int
    high: int
    code: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    item: str
    above: int
    urgent: bool
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Scale:
    id: str
    version: str
    url: str
    loinc: str
    title_zh: str
    title_en: str
    source: str
    intro_zh: str
    intro_en: str
    options: tuple[Option, ...]
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    flags: tuple[Flag, ...]

    @property
    def max_score(self) -> int:
        return len(self.items) * max(option.value for option in self.options)

    @property
    def option_values(self) -> frozenset[int]:
        return frozenset(option.value for option in self.options)


@dataclass(frozen=True, slots=True)
class Hotline:
    number: str
    zh: str
    en: str


def parse(raw: dict[str, Any]) -> Scale:
    """A scale file's JSON as a checked Scale; ScaleFileError names the first problem."""
    try:
        scale = Scale(
            id=str(raw["id"]),
            version=str(raw["version"]),
            url=str(raw["url"]),
            loinc=str(raw.get("loinc", "")),
            title_zh=str(raw["title_zh"]),
            title_en=str(raw["title_en"]),
            source=str(raw["source"]),
            intro_zh=str(raw["intro_zh"]),
            intro_en=str(raw["intro_en"]),
            options=tuple(Option(int(o["value"]), str(o["zh"]), str(o["en"])) for o in raw["options"]),
            items=tuple(Item(str(i["linkId"]), str(i["zh"]), str(i["en"])) for i in raw["items"]),
            bands=tuple(
                Band(int(b["min"]), int(b["max"]), str(b["code"]), str(b["zh"]), str(b["en"]))
                for b in raw["bands"]
            ),
            flags=tuple(
                Flag(
                    str(f["code"]),
                    str(f["item"]),
                    int(f["above"]),
                    bool(f["urgent"]),
                    str(f["zh"]),
                    str(f["en"]),
                )
                for f in raw.get("flags", [])
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScaleFileError(f"malformed scale file: {type(exc).__name__}: {exc}") from exc
    _check(scale)
    return scale


def _check(scale: Scale) -> None:
    if not SCALE_ID.match(scale.id):
        raise ScaleFileError(f"scale id {scale.id!r} must be lower-case letters, digits and _")
    if not scale.items or not scale.options:
        raise ScaleFileError(f"{scale.id}: a scale needs items and answer options")
    if len(scale.option_values) != len(scale.options) or min(scale.option_values) < 0:
        raise ScaleFileError(f"{scale.id}: option values must be distinct and not negative")
    link_ids = [item.link_id for item in scale.items]
    if len(set(link_ids)) != len(link_ids):
        raise ScaleFileError(f"{scale.id}: duplicate linkId")
    expected = 0
    for band in sorted(scale.bands, key=lambda b: b.low):
        if band.low != expected or band.high < band.low:
            raise ScaleFileError(
                f"{scale.id}: bands must cover 0..{scale.max_score} without gaps or overlaps"
            )
        expected = band.high + 1
    if expected != scale.max_score + 1:
        raise ScaleFileError(f"{scale.id}: bands must end at the maximum score {scale.max_score}")
    for flag in scale.flags:
        if flag.item not in link_ids:
            raise ScaleFileError(f"{scale.id}: flag {flag.code} names unknown item {flag.item}")


def load_folder(folder: Path) -> dict[str, Scale]:
    scales: dict[str, Scale] = {}
    for path in sorted(folder.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if "items" not in raw:
            continue  # not a scale (the crisis hotlines live beside them)
        scale = parse(raw)
        scales[scale.id] = scale
    return scales


@lru_cache(maxsize=8)
def catalog(extra_dir: str = "") -> dict[str, Scale]:
    """The built-in scales plus those in `extra_dir` (a later file with the same id replaces one)."""
    scales = load_folder(DATA_DIR)
    if extra_dir:
        scales.update(load_folder(Path(extra_dir)))
    return scales


@lru_cache
def hotlines() -> tuple[Hotline, ...]:
    """Crisis lines shown at once for an urgent result (data/crisis.json names each line's operator).

    Sources: 全国心理援助热线 400-161-9995 (the 24-hour national psychological crisis line,
    希望24热线); 北京心理危机研究与干预中心 010-82951332 (Beijing Huilongguan
    Hospital's 24-hour crisis line); 12356, the national unified mental-health hotline announced by
    the National Health Commission for service from 1 January 2025.
    """
    raw = json.loads(CRISIS_FILE.read_text(encoding="utf-8"))
    return tuple(Hotline(str(h["number"]), str(h["zh"]), str(h["en"])) for h in raw["hotlines"])
