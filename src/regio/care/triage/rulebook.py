"""Triage rules as versioned data: the files under data/, read once and checked on load.

A rule file names its version, the dates it is valid, the clinical sources its rules cite, the
code list of symptoms and chronic conditions, and an ordered list of rules. Each rule is a
`when` (every condition must hold) and what follows: a red flag (go to an emergency department
now), a route (department, urgency, advice: the first matching route decides) or a note. The
evaluation is the pure function `policies.assess`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from regio.care.registry import reference
from regio.care.triage.enums import Advice, Urgency

DATA_DIR = Path(__file__).resolve().parent / "data"

# The conditions a rule's `when` may use; anything else in a file is a mistake, caught on load.
CONDITIONS = frozenset(
    {
        "symptoms_any",
        "chronic_any",
        "age_months_lt",
        "age_months_gte",
        "fever",
        "temperature_gte",
        "temperature_gt",
        "temperature_missing",
        "fever_days_gt",
        "spo2_lte",
        "pregnant",
        "breastfeeding",
    }
)
KINDS = ("red_flag", "route", "note")


class RulebookError(ValueError):
    """A rule file that cannot be used; raised at load, never while assessing someone."""


@dataclass(frozen=True, slots=True)
class Label:
    code: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: str
    when: dict[str, Any]
    reason_zh: str
    reason_en: str
    source: str
    department: str | None = None
    urgency: Urgency | None = None
    advice: Advice | None = None


@dataclass(frozen=True, slots=True)
class Rulebook:
    version: str
    valid_from: date
    valid_to: date
    fever_threshold_c: float
    sources: dict[str, str]
    symptoms: tuple[Label, ...]
    chronic_conditions: tuple[Label, ...]
    rules: tuple[Rule, ...]
    default: Rule
    symptom_codes: frozenset[str] = field(default=frozenset())
    chronic_codes: frozenset[str] = field(default=frozenset())

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to

    def rule(self, rule_id: str) -> Rule:
        for rule in (*self.rules, self.default):
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def _labels(raw: list[dict[str, str]], what: str) -> tuple[Label, ...]:
    labels = tuple(Label(code=item["code"], zh=item["zh"], en=item["en"]) for item in raw)
    if len({label.code for label in labels}) != len(labels):
        raise RulebookError(f"duplicate {what} code")
    return labels


def _rule(raw: dict[str, Any], *, sources: dict[str, str], codes: frozenset[str], kind: str) -> Rule:
    rule_id = str(raw["id"])
    when = dict(raw.get("when", {}))
    unknown = set(when) - CONDITIONS
    if unknown:
        raise RulebookError(f"rule {rule_id}: unknown conditions {sorted(unknown)}")
    for key in ("symptoms_any", "chronic_any"):
        listed = set(when.get(key, ()))
        if listed - codes:
            raise RulebookError(f"rule {rule_id}: {key} names unknown codes {sorted(listed - codes)}")
    if raw.get("source") not in sources:
        raise RulebookError(f"rule {rule_id}: source {raw.get('source')!r} is not in the file's sources")
    department = raw.get("department")
    if kind != "note":
        if department not in reference.departments_by_code():
            raise RulebookError(f"rule {rule_id}: {department!r} is not a standard department code")
    urgency = Urgency(raw["urgency"]) if kind in ("route", "default") else None
    advice = Advice(raw["advice"]) if kind in ("route", "default") else None
    if kind == "red_flag":
        urgency, advice = Urgency.emergency, Advice.emergency_now
    return Rule(
        id=rule_id,
        kind=kind,
        when=when,
        reason_zh=str(raw["reason_zh"]),
        reason_en=str(raw["reason_en"]),
        source=str(raw["source"]),
        department=department,
        urgency=urgency,
        advice=advice,
    )


def parse(raw: dict[str, Any]) -> Rulebook:
    """A rule file's JSON as a checked Rulebook; RulebookError names the first problem."""
    try:
        sources = {str(k): str(v) for k, v in raw["sources"].items()}
        symptoms = _labels(raw["symptoms"], "symptom")
        chronic = _labels(raw["chronic_conditions"], "chronic condition")
        codes = frozenset(label.code for label in (*symptoms, *chronic))
        rules: list[Rule] = []
        for item in raw["rules"]:
            kind = item.get("kind")
            if kind not in KINDS:
                raise RulebookError(f"rule {item.get('id')}: kind must be one of {KINDS}")
            rules.append(_rule(item, sources=sources, codes=codes, kind=kind))
        if len({rule.id for rule in rules}) != len(rules):
            raise RulebookError("duplicate rule id")
        default = _rule(raw["default"], sources=sources, codes=codes, kind="default")
        book = Rulebook(
            version=str(raw["version"]),
            valid_from=date.fromisoformat(raw["valid_from"]),
            valid_to=date.fromisoformat(raw["valid_to"]),
            fever_threshold_c=float(raw["fever_threshold_c"]),
            sources=sources,
            symptoms=symptoms,
            chronic_conditions=chronic,
            rules=tuple(rules),
            default=default,
            symptom_codes=frozenset(label.code for label in symptoms),
            chronic_codes=frozenset(label.code for label in chronic),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, RulebookError):
            raise
        raise RulebookError(f"malformed rule file: {type(exc).__name__}: {exc}") from exc
    if book.valid_to < book.valid_from:
        raise RulebookError("valid_to is before valid_from")
    return book


@lru_cache
def rulebooks(folder: Path = DATA_DIR) -> tuple[Rulebook, ...]:
    """Every rule file of the folder, newest validity first."""
    books = [parse(json.loads(path.read_text(encoding="utf-8"))) for path in sorted(folder.glob("*.json"))]
    return tuple(sorted(books, key=lambda book: (book.valid_from, book.version), reverse=True))


def in_force(books: tuple[Rulebook, ...], day: date) -> Rulebook | None:
    """The rule set valid on a day: of those valid, the one that took effect last."""
    return next((book for book in books if book.valid_on(day)), None)
