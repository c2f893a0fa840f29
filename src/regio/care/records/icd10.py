"""ICD-10 diagnoses with Chinese names: the shipped subset (data/icd10.csv) and an in-memory search index.

Loaded once per process (about 330 rows); a search walks prepared lower-case keys, which answers in
microseconds, so the editor's autocomplete can ask on every keystroke.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "icd10.csv"
MAX_RESULTS = 50
_CODE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
# Brackets and punctuation in the official names ("特发性（原发性）高血压") are skipped when matching,
# so the words doctors type ("原发性高血压") still find them.
_PUNCTUATION = re.compile(r"[\s（）()\[\]【】，,、·\-]")


def _plain(text: str) -> str:
    return _PUNCTUATION.sub("", text)


@dataclass(frozen=True, slots=True)
class Icd10Entry:
    code: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...] = ()

    @property
    def category(self) -> str:
        return category_of(self.code)


def category_of(code: str) -> str:
    """The ICD-10 category (the first 3 characters: "J06.9" → "J06")."""
    return code.strip().upper()[:3]


def normalise_code(raw: str) -> str:
    """ "j069", "J06.9 " and "J06.9" all name J06.9; a bare category stays as it is."""
    code = raw.strip().upper().replace(" ", "")
    if len(code) > 3 and "." not in code:
        code = code[:3] + "." + code[3:]
    return code


def looks_like_code(raw: str) -> bool:
    return bool(_CODE.match(normalise_code(raw)))


class Icd10Index:
    """The shipped diagnoses by code, and a search by code prefix, Chinese name or English name."""

    def __init__(self, entries: list[Icd10Entry]) -> None:
        self.entries = sorted(entries, key=lambda e: e.code)
        self.by_code = {entry.code: entry for entry in self.entries}
        # (entry, code without dot, Chinese names (the official one first, then aliases), English lower-cased)
        self._keys = [
            (e, e.code.replace(".", ""), [_plain(n) for n in (e.name_zh, *e.aliases)], e.name_en.lower())
            for e in self.entries
        ]

    def get(self, code: str) -> Icd10Entry | None:
        return self.by_code.get(normalise_code(code))

    def search(self, query: str, *, limit: int = 20) -> list[Icd10Entry]:
        """Exact code, then code prefix, then names starting with the query, then names containing it."""
        text = query.strip()
        if not text:
            return []
        limit = max(1, min(limit, MAX_RESULTS))
        code_query = text.upper().replace(".", "").replace(" ", "")
        lower = text.lower()
        plain = _plain(text)
        ranked: list[tuple[int, str, Icd10Entry]] = []
        for entry, bare_code, names_zh, name_en in self._keys:
            if bare_code == code_query:
                rank = 0
            elif bare_code.startswith(code_query):
                rank = 1
            elif (plain and any(n.startswith(plain) for n in names_zh)) or name_en.startswith(lower):
                rank = 2
            elif (plain and any(plain in n for n in names_zh)) or lower in name_en:
                rank = 3
            else:
                continue
            ranked.append((rank, entry.code, entry))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [entry for _, _, entry in ranked[:limit]]


def read_entries(path: Path = DATA_FILE) -> list[Icd10Entry]:
    """The rows of the data file; lines starting with # are its header notes."""
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    entries = []
    for row in csv.DictReader(lines):
        code = normalise_code(row["code"])
        if not _CODE.match(code):
            raise ValueError(f"{path.name}: {row['code']!r} is not an ICD-10 code")
        aliases = tuple(a.strip() for a in (row.get("aliases") or "").split("|") if a.strip())
        entries.append(
            Icd10Entry(
                code=code, name_zh=row["name_zh"].strip(), name_en=row["name_en"].strip(), aliases=aliases
            )
        )
    return entries


@lru_cache(maxsize=1)
def index() -> Icd10Index:
    return Icd10Index(read_entries())
