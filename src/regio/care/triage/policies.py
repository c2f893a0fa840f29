"""Pure rules of triage: checking the answers, evaluating the rule set, and who may see an assessment.

No I/O: the rule set is handed in (see rulebook.py), the service reads the facts and asks here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from regio.care.triage import errors
from regio.care.triage.enums import Advice, Sex, Urgency
from regio.care.triage.rulebook import Rule, Rulebook
from regio.core.access import Principal, Role

# Physiologically possible values (not normal ones): anything outside is a typing mistake.
RANGES: dict[str, tuple[float, float]] = {
    "age_years": (0, 120),
    "age_months": (0, 216),
    "temperature_c": (34.0, 43.0),
    "fever_days": (0, 60),
    "spo2": (50, 100),
}
PREGNANCY_MIN_AGE_YEARS = 10


@dataclass(frozen=True, slots=True)
class Answers:
    """The questionnaire as given; ages in months once checked."""

    sex: Sex
    age_years: int | None = None
    age_months: int | None = None
    temperature_c: float | None = None
    fever_days: int | None = None
    spo2: int | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    symptoms: tuple[str, ...] = ()
    chronic_conditions: tuple[str, ...] = ()

    @property
    def months(self) -> int:
        if self.age_months is not None:
            return self.age_months
        assert self.age_years is not None
        return self.age_years * 12


@dataclass(frozen=True, slots=True)
class Reason:
    rule_id: str
    kind: str
    text_zh: str
    text_en: str
    source: str


@dataclass(frozen=True, slots=True)
class Outcome:
    department: str
    urgency: Urgency
    advice: Advice
    go_offline: bool
    red_flags: tuple[str, ...]
    deciding_rule: str
    reasons: tuple[Reason, ...] = field(default=())


def check(answers: Answers, book: Rulebook) -> None:
    """Raises the first problem with the answers: unknown codes, no age, impossible or contradictory values."""
    unknown = sorted(
        {code for code in answers.symptoms if code not in book.symptom_codes}
        | {code for code in answers.chronic_conditions if code not in book.chronic_codes}
    )
    if unknown:
        raise errors.UnknownCodes(unknown=unknown)
    if (answers.age_years is None) == (answers.age_months is None):
        raise errors.AgeRequired()
    for name, (low, high) in RANGES.items():
        value = getattr(answers, name)
        if value is not None and not low <= value <= high:
            # NaN and Infinity fail the range too; echoed as text, since JSON has no such numbers
            shown = str(value) if isinstance(value, float) and not math.isfinite(value) else value
            raise errors.ValueOutOfRange(field=name, value=shown, minimum=low, maximum=high)
    if answers.pregnant and answers.sex is Sex.male:
        raise errors.ContradictoryAnswers(problem="pregnant + male", fields=["pregnant", "sex"])
    if answers.breastfeeding and answers.sex is Sex.male:
        raise errors.ContradictoryAnswers(problem="breastfeeding + male", fields=["breastfeeding", "sex"])
    if answers.pregnant and answers.months < PREGNANCY_MIN_AGE_YEARS * 12:
        raise errors.ContradictoryAnswers(problem="pregnant + child's age", fields=["pregnant", "age"])
    if "reduced_fetal_movement" in answers.symptoms and not answers.pregnant:
        raise errors.ContradictoryAnswers(
            problem="fetal movements + not pregnant", fields=["symptoms", "pregnant"]
        )


def has_fever(answers: Answers, book: Rulebook) -> bool:
    """A measured temperature at the threshold, or a fever the person reports (a parent's word counts)."""
    if answers.temperature_c is not None and answers.temperature_c >= book.fever_threshold_c:
        return True
    return "fever" in answers.symptoms


def _holds(name: str, wanted: Any, answers: Answers, book: Rulebook) -> bool:
    if name == "symptoms_any":
        return any(code in answers.symptoms for code in wanted)
    if name == "chronic_any":
        return any(code in answers.chronic_conditions for code in wanted)
    if name == "age_months_lt":
        return answers.months < wanted
    if name == "age_months_gte":
        return answers.months >= wanted
    if name == "fever":
        return has_fever(answers, book) is bool(wanted)
    if name == "temperature_gte":
        return answers.temperature_c is not None and answers.temperature_c >= wanted
    if name == "temperature_gt":
        return answers.temperature_c is not None and answers.temperature_c > wanted
    if name == "temperature_missing":
        return (answers.temperature_c is None) is bool(wanted)
    if name == "fever_days_gt":
        return answers.fever_days is not None and answers.fever_days > wanted
    if name == "spo2_lte":
        return answers.spo2 is not None and answers.spo2 <= wanted
    if name == "pregnant":
        return answers.pregnant is bool(wanted)
    if name == "breastfeeding":
        return answers.breastfeeding is bool(wanted)
    raise ValueError(f"unknown condition {name}")  # the loader refuses these; a bug if reached


def matches(rule: Rule, answers: Answers, book: Rulebook) -> bool:
    return all(_holds(name, wanted, answers, book) for name, wanted in rule.when.items())


def _reason(rule: Rule) -> Reason:
    return Reason(rule.id, rule.kind, rule.reason_zh, rule.reason_en, rule.source)


def assess(answers: Answers, book: Rulebook) -> Outcome:
    """Checks the answers and evaluates the rules: any red flag sends the person offline now;
    otherwise the first matching route decides department, urgency and advice; notes add to the reasons.
    """
    check(answers, book)
    matched = [rule for rule in book.rules if matches(rule, answers, book)]
    red = [rule for rule in matched if rule.kind == "red_flag"]
    notes = [_reason(rule) for rule in matched if rule.kind == "note"]
    if red:
        first = red[0]
        assert first.department is not None
        return Outcome(
            department=first.department,
            urgency=Urgency.emergency,
            advice=Advice.emergency_now,
            go_offline=True,
            red_flags=tuple(rule.id for rule in red),
            deciding_rule=first.id,
            reasons=tuple(_reason(rule) for rule in red) + tuple(notes),
        )
    route = next((rule for rule in matched if rule.kind == "route"), book.default)
    assert route.department is not None and route.urgency is not None and route.advice is not None
    return Outcome(
        department=route.department,
        urgency=route.urgency,
        advice=route.advice,
        go_offline=False,
        red_flags=(),
        deciding_rule=route.id,
        reasons=(_reason(route), *notes),
    )


# ---- access -------------------------------------------------------------------------------------------


def may_assess(principal: Principal) -> bool:
    """Any signed-in person may triage themselves or someone they act for; systems may not."""
    return principal.is_person


@dataclass(frozen=True, slots=True)
class AssessmentFacts:
    asked_by_user_id: int | None
    patient_id: int | None


def may_read(principal: Principal, facts: AssessmentFacts, actable_patient_ids: frozenset[int]) -> bool:
    """The person who asked, or anyone who may act for the patient it was about; nobody else.

    Doctors see triage answers through the consultation that carries them, not here; admins and
    the platform itself get no access to this health data.
    """
    if not principal.is_person or principal.user_id is None:
        return False
    if facts.asked_by_user_id == principal.user_id:
        return True
    return facts.patient_id is not None and facts.patient_id in actable_patient_ids


def may_act_for_patient(principal: Principal) -> bool:
    return principal.is_person and principal.has_role(Role.patient)
