"""The triage rules, one by one, and the rule file's own checks: pure, no database."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from regio.care.registry import reference
from regio.care.triage import errors, policies, rulebook
from regio.care.triage.enums import Advice, Sex, Urgency
from regio.care.triage.policies import Answers
from tests.care.triage import cases

BOOK = rulebook.rulebooks()[0]


def answers(**values: Any) -> Answers:
    values = dict(values)
    values["sex"] = Sex(values.get("sex", "unknown"))
    values["symptoms"] = tuple(values.get("symptoms", ()))
    values["chronic_conditions"] = tuple(values.get("chronic_conditions", ()))
    return Answers(**values)


def assess(**values: Any) -> policies.Outcome:
    return policies.assess(answers(**values), BOOK)


def test_every_rule_of_the_file_has_a_case_here() -> None:
    in_file = {rule.id for rule in BOOK.rules} | {BOOK.default.id}
    assert in_file == set(cases.RULE_CASES)


@pytest.mark.parametrize("rule_id", sorted(cases.RULE_CASES))
def test_each_rule_fires_on_its_case(rule_id: str) -> None:
    rule = BOOK.rule(rule_id)
    outcome = assess(**cases.RULE_CASES[rule_id])
    assert rule_id in [reason.rule_id for reason in outcome.reasons]
    if rule.kind == "red_flag":
        assert outcome.go_offline is True
        assert outcome.urgency is Urgency.emergency and outcome.advice is Advice.emergency_now
        assert rule_id in outcome.red_flags
    elif rule.kind in ("route", "default"):
        assert outcome.deciding_rule == rule_id
        assert (outcome.department, outcome.urgency, outcome.advice) == (
            rule.department,
            rule.urgency,
            rule.advice,
        )
        assert outcome.go_offline is False


# ---- the four patient questions -------------------------------------------------------------------------


def test_adult_with_four_days_of_fever_above_38_5_sees_a_doctor_in_person_today() -> None:
    outcome = assess(**cases.ADULT_FEVER_4_DAYS)
    assert outcome.go_offline is False  # no red flag: online advice allowed
    assert outcome.urgency is Urgency.high
    assert outcome.advice is Advice.in_person_today
    assert outcome.department == "fever_clinic"


def test_pregnant_woman_asking_for_an_antipyretic_gets_medication_advice_from_obstetrics() -> None:
    outcome = assess(**cases.PREGNANT_ANTIPYRETIC)
    assert outcome.department in ("obstetrics", "pharmacy_clinic")
    assert outcome.urgency is Urgency.routine
    assert outcome.advice is Advice.medication_advice
    assert "NOTE-PREGNANT" in [reason.rule_id for reason in outcome.reasons]


def test_listless_child_after_the_fever_went_down_goes_to_a_paediatric_emergency_now() -> None:
    outcome = assess(**cases.LISTLESS_CHILD)
    assert outcome.go_offline is True
    assert outcome.department == "pediatrics"
    assert outcome.urgency is Urgency.emergency


def test_parents_long_term_medication_is_a_follow_up_visit_for_a_repeat_prescription() -> None:
    outcome = assess(**cases.PARENT_REPEAT_PRESCRIPTION)
    assert outcome.advice is Advice.follow_up_visit
    assert outcome.urgency is Urgency.routine
    assert outcome.go_offline is False
    assert outcome.department == "cardiology"


# ---- thresholds at their edges ---------------------------------------------------------------------------


def test_spo2_at_93_is_a_red_flag_and_94_is_not() -> None:
    assert assess(**cases.ADULT, spo2=93).go_offline is True
    assert assess(**cases.ADULT, spo2=94).go_offline is False


def test_fever_of_39_for_over_3_days_is_a_red_flag_but_not_for_exactly_3_or_below_39() -> None:
    assert assess(**cases.ADULT, temperature_c=39.0, fever_days=4).go_offline is True
    assert assess(**cases.ADULT, temperature_c=39.0, fever_days=3).go_offline is False
    below = assess(**cases.ADULT, temperature_c=38.9, fever_days=4)
    assert below.go_offline is False and below.urgency is Urgency.high


def test_fever_of_exactly_38_5_for_4_days_is_not_yet_above_38_5() -> None:
    outcome = assess(**cases.ADULT, temperature_c=38.5, fever_days=4)
    assert outcome.deciding_rule == "RT-FEVER" and outcome.urgency is Urgency.moderate


def test_infant_fever_is_a_red_flag_under_3_months_only() -> None:
    assert assess(age_months=2, sex="female", temperature_c=38.0).go_offline is True
    three = assess(age_months=3, sex="female", temperature_c=38.0)
    assert three.go_offline is False and three.department == "pediatrics"


def test_infant_with_a_reported_fever_and_no_thermometer_is_still_sent_to_the_emergency() -> None:
    outcome = assess(age_months=1, sex="male", symptoms=["fever"])
    assert outcome.go_offline is True
    assert "NOTE-NO-TEMPERATURE" in [reason.rule_id for reason in outcome.reasons]


def test_missing_temperature_is_allowed_and_said() -> None:
    outcome = assess(**cases.ADULT, symptoms=["fever"], fever_days=2)
    assert outcome.deciding_rule == "RT-FEVER"
    assert "NOTE-NO-TEMPERATURE" in [reason.rule_id for reason in outcome.reasons]


def test_all_red_flags_are_listed_and_the_first_decides_the_department() -> None:
    outcome = assess(**cases.ADULT, spo2=90, symptoms=["chest_pain", "breathing_difficulty"])
    assert outcome.red_flags == ("RF-BREATHING", "RF-SPO2", "RF-CHEST-PAIN")
    assert outcome.department == "emergency"


# ---- bad answers -----------------------------------------------------------------------------------------


def test_unknown_codes_are_refused_by_name() -> None:
    with pytest.raises(errors.UnknownCodes) as refused:
        assess(**cases.ADULT, symptoms=["cough", "dragon_pox"], chronic_conditions=["fever"])
    assert refused.value.details["unknown"] == ["dragon_pox", "fever"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature_c", 45.0),
        ("temperature_c", 30.0),
        ("spo2", 101),
        ("spo2", 20),
        ("fever_days", 61),
        ("fever_days", -1),
    ],
)
def test_values_outside_the_physiological_range_are_refused(field: str, value: float) -> None:
    with pytest.raises(errors.ValueOutOfRange) as refused:
        assess(**cases.ADULT, **{field: value})
    assert refused.value.details["field"] == field


def test_age_must_be_given_once() -> None:
    with pytest.raises(errors.AgeRequired):
        assess(sex="male")
    with pytest.raises(errors.AgeRequired):
        assess(sex="male", age_years=1, age_months=12)
    with pytest.raises(errors.ValueOutOfRange):
        assess(sex="male", age_years=130)


@pytest.mark.parametrize(
    "values",
    [
        {"age_years": 30, "sex": "male", "pregnant": True},
        {"age_years": 30, "sex": "male", "breastfeeding": True},
        {"age_years": 6, "sex": "female", "pregnant": True},
        {"age_years": 30, "sex": "female", "symptoms": ["reduced_fetal_movement"]},
    ],
)
def test_contradictory_answers_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(errors.ContradictoryAnswers):
        assess(**values)


# ---- the rule file ---------------------------------------------------------------------------------------


def _raw() -> dict[str, Any]:
    return json.loads(sorted(rulebook.DATA_DIR.glob("*.json"))[0].read_text(encoding="utf-8"))


def test_the_rule_file_names_its_version_validity_and_a_source_for_every_rule() -> None:
    assert BOOK.version and BOOK.valid_from <= BOOK.valid_to
    for rule in (*BOOK.rules, BOOK.default):
        assert BOOK.sources[rule.source]


def test_every_department_is_a_standard_registry_department() -> None:
    known = reference.departments_by_code()
    assert {rule.department for rule in BOOK.rules if rule.department} <= set(known)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["rules"][0].update(department="witch_doctor"), "standard department"),
        (lambda raw: raw["rules"][0]["when"].update(moon_phase="full"), "unknown conditions"),
        (lambda raw: raw["rules"][0].update(source="a blog"), "source"),
        (lambda raw: raw["rules"][0]["when"].update(symptoms_any=["hiccups"]), "unknown codes"),
        (lambda raw: raw["rules"].append(copy.deepcopy(raw["rules"][0])), "duplicate rule id"),
        (lambda raw: raw.update(valid_to="2000-01-01"), "valid_to"),
    ],
)
def test_a_broken_rule_file_is_refused_on_load(change: Any, message: str) -> None:
    raw = _raw()
    change(raw)
    with pytest.raises(rulebook.RulebookError, match=message):
        rulebook.parse(raw)


def test_the_rule_set_in_force_is_the_latest_valid_one_on_the_day() -> None:
    old = rulebook.parse({**_raw(), "version": "old", "valid_from": "2025-01-01", "valid_to": "2026-06-30"})
    new = rulebook.parse({**_raw(), "version": "new", "valid_from": "2026-06-01", "valid_to": "2027-12-31"})
    books = tuple(sorted([old, new], key=lambda b: b.valid_from, reverse=True))
    assert rulebook.in_force(books, date(2026, 3, 1)) is old
    assert rulebook.in_force(books, date(2026, 6, 15)) is new
    assert rulebook.in_force(books, date(2024, 1, 1)) is None
