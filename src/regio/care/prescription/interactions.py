"""The drug-interaction table: rows between ATC selectors, indexed for constant-time pair lookups."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from regio.care.prescription.catalog import DATA_DIR, CatalogError, RowError, read_rows

INTERACTIONS_FILE: Path = DATA_DIR / "interactions.csv"
COLUMNS: tuple[str, ...] = ("a", "b", "severity", "effect_zh", "effect_en", "management_zh", "source")
SELECTOR = re.compile(r"^[A-V]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$")
# the lengths of the ATC levels: anatomical group, therapeutic, pharmacological, chemical, substance
LEVELS: tuple[int, ...] = (1, 3, 4, 5, 7)


class Severity(StrEnum):
    """Most severe first; a table row is never no_data, which is the engine's 'could not check'."""

    contraindicated = "contraindicated"
    major = "major"
    moderate = "moderate"
    minor = "minor"
    no_data = "no_data"


RANK: dict[Severity, int] = {severity: rank for rank, severity in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class Interaction:
    a: str
    b: str
    severity: Severity
    effect_zh: str
    effect_en: str
    management_zh: str
    source: str


def prefixes(atc: str) -> tuple[str, ...]:
    """The selectors an ATC code falls under: 'B01AC06' -> ('B', 'B01', 'B01A', 'B01AC', 'B01AC06')."""
    return tuple(atc[:length] for length in LEVELS if length <= len(atc))


def parse_interactions(text: str) -> tuple[list[Interaction], list[RowError]]:
    """Every valid row of an interactions CSV, and a RowError for each problem; never raises on content."""
    rows: list[Interaction] = []
    errors: list[RowError] = []
    first_line: dict[frozenset[str], int] = {}
    for line, values in read_rows(text, COLUMNS):
        if isinstance(values, RowError):
            errors.append(values)
            continue
        before = len(errors)

        def error(column: str, code: str, zh: str, en: str, line: int = line) -> None:
            errors.append(RowError(line, column, code, zh, en))

        for column in ("a", "b"):
            if not SELECTOR.match(values[column]):
                error(
                    column,
                    "bad_selector",
                    f"{column} 不是有效的 ATC 编码或前缀：{values[column]!r}",
                    f"{column} is not an ATC code or level prefix: {values[column]!r}",
                )
        severity = values["severity"]
        if severity not in RANK or severity == Severity.no_data:
            error(
                "severity",
                "unknown_value",
                f"severity 的值 {severity!r} 无效，应为 contraindicated/major/moderate/minor",
                f"severity {severity!r} is not one of contraindicated, major, moderate, minor",
            )
        for column in ("effect_zh", "effect_en", "management_zh", "source"):
            if not values[column]:
                error(column, "required", f"{column} 不能为空", f"{column} must not be empty")
        pair = frozenset((values["a"], values["b"]))
        if pair in first_line:
            error(
                "b",
                "duplicate_pair",
                f"{values['a']} 与 {values['b']} 的组合与第 {first_line[pair]} 行重复",
                f"the pair {values['a']}/{values['b']} repeats line {first_line[pair]}",
            )
        elif len(errors) == before:
            first_line[pair] = line
        if len(errors) == before:
            rows.append(
                Interaction(
                    a=values["a"],
                    b=values["b"],
                    severity=Severity(severity),
                    effect_zh=values["effect_zh"],
                    effect_en=values["effect_en"],
                    management_zh=values["management_zh"],
                    source=values["source"],
                )
            )
    return rows, errors


class InteractionTable:
    """Rows indexed by their (selector, selector) pair in both orders.

    A drug's ATC code has at most five prefixes, so finding every row between two drugs takes at
    most 5 x 5 dictionary lookups however large the table grows; prefixes no row mentions are
    dropped first, which leaves most pairs at a handful of set lookups.
    """

    def __init__(self, rows: Iterable[Interaction]) -> None:
        self.rows: tuple[Interaction, ...] = tuple(rows)
        self._position = {id(row): position for position, row in enumerate(self.rows)}
        self._pairs: dict[tuple[str, str], list[Interaction]] = {}
        for row in self.rows:
            self._pairs.setdefault((row.a, row.b), []).append(row)
            if row.a != row.b:
                self._pairs.setdefault((row.b, row.a), []).append(row)
        self.selectors: frozenset[str] = frozenset(s for row in self.rows for s in (row.a, row.b))
        self._selectors_of: dict[str, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def selectors_of(self, atc: str) -> tuple[str, ...]:
        """The selectors in this table that match `atc`."""
        known = self._selectors_of.get(atc)
        if known is None:
            known = tuple(prefix for prefix in prefixes(atc) if prefix in self.selectors)
            if len(self._selectors_of) > 100_000:  # ATC codes come from a catalog; this only bounds a misuse
                self._selectors_of.clear()
            self._selectors_of[atc] = known
        return known

    def covers(self, atc: str) -> bool:
        """Whether any row names a selector matching `atc` (else the table knows nothing of that drug)."""
        return bool(self.selectors_of(atc))

    def between(self, atc_x: str, atc_y: str) -> list[Interaction]:
        """Every row between a drug with ATC `atc_x` and one with `atc_y`, most severe first, each once."""
        found: list[Interaction] = []
        of_y = self.selectors_of(atc_y)
        if not of_y:
            return found
        for p in self.selectors_of(atc_x):
            for q in of_y:
                for row in self._pairs.get((p, q), ()):
                    # a row can match by both orders: (J01, J01F) and (J01F, J01) for two macrolides
                    if row not in found:
                        found.append(row)
        if len(found) > 1:
            found.sort(key=lambda row: (RANK[row.severity], self._position[id(row)]))
        return found


@lru_cache(maxsize=1)
def shipped_interactions() -> InteractionTable:
    """data/interactions.csv as a table; a bad row in the shipped file is a bug and raises CatalogError."""
    rows, errors = parse_interactions(INTERACTIONS_FILE.read_text(encoding="utf-8"))
    if errors:
        raise CatalogError(str(INTERACTIONS_FILE), errors)
    return InteractionTable(rows)
