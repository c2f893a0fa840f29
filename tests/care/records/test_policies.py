"""The visit-type rule, the same-condition rule, the under-6 rule and retention, as pure functions."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from regio.care.records.enums import PriorSource, RetentionKind, VisitType
from regio.care.records.policies import (
    PolicyFacts,
    PriorFacts,
    VisitDecision,
    add_years,
    earliest_deletion,
    full_years,
    is_under_six,
    latest_versions,
    may_delete_now,
    prescribing_decision,
    same_condition,
    shanghai_day,
    visit_type_decision,
)

ZJ = "330000"
FJ = "350000"
TODAY = date(2023, 3, 1)

FEVER_POLICY = PolicyFacts(
    key="fujian-covid19-2023",
    version=1,
    region_adcode=FJ,
    valid_from=date(2023, 1, 8),
    valid_to=date(2023, 12, 31),
    icd10_categories=frozenset({"U07", "R50", "J06"}),
    symptom_codes=frozenset({"fever", "cough"}),
    name_zh="福建省新冠病毒感染互联网首诊",
)


def hospital_record(code: str, *, pid: int = 1, on: date = date(2022, 6, 1)) -> PriorFacts:
    return PriorFacts(
        id=pid, icd10_code=code, source=PriorSource.hospital_record, diagnosed_on=on, confirmed=False
    )


def upload(code: str, *, confirmed: bool, pid: int = 2, on: date = date(2022, 6, 1)) -> PriorFacts:
    return PriorFacts(
        id=pid, icd10_code=code, source=PriorSource.uploaded_record, diagnosed_on=on, confirmed=confirmed
    )


def decide(code: str, *, region: str = FJ, today: date = TODAY, priors=(), policies=(), symptoms=()):  # type: ignore[no-untyped-def]
    return visit_type_decision(
        code=code, region_adcode=region, today=today, priors=priors, policies=policies, symptoms=symptoms
    )


# ---- the same condition ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("E11.9", "E11.2", True),  # type 2 diabetes with or without complications: one condition
        ("E11", "E11.9", True),
        ("e11.9", "E11", True),
        ("E11.9", "E10.9", False),  # type 1 is another condition
        ("I10", "I11", False),  # essential hypertension vs hypertensive heart disease
        ("J45.0", "J45.9", True),
        ("F32.1", "F33", False),
    ],
)
def test_the_same_condition_is_the_same_icd10_category(a: str, b: str, same: bool) -> None:
    assert same_condition(a, b) is same


# ---- follow-up -----------------------------------------------------------------------------------------


def test_a_hospital_record_of_the_same_category_makes_a_follow_up() -> None:
    decision = decide("E11.9", priors=[hospital_record("E11.2", pid=7)])
    assert decision.visit_type is VisitType.follow_up
    assert decision.prior_id == 7
    assert decision.allows_diagnosis


def test_a_confirmed_upload_makes_a_follow_up_but_an_unconfirmed_one_does_not() -> None:
    assert decide("I10", priors=[upload("I10", confirmed=True)]).visit_type is VisitType.follow_up
    unconfirmed = decide("I10", priors=[upload("I10", confirmed=False)])
    assert unconfirmed.visit_type is VisitType.first_visit_advice_only
    assert [r.code for r in unconfirmed.reasons] == ["upload_not_confirmed", "no_first_visit_policy"]


def test_a_prior_diagnosis_of_another_condition_does_not_count() -> None:
    decision = decide("I11", priors=[hospital_record("I10")])
    assert decision.visit_type is VisitType.first_visit_advice_only
    assert decision.reasons[0].code == "no_prior_offline_diagnosis"


def test_a_prior_diagnosis_dated_after_today_does_not_count() -> None:
    decision = decide("E11", priors=[hospital_record("E11", on=date(2023, 3, 2))])
    assert decision.visit_type is VisitType.first_visit_advice_only


def test_a_follow_up_wins_over_a_policy() -> None:
    decision = decide("J06.9", priors=[hospital_record("J06")], policies=[FEVER_POLICY])
    assert decision.visit_type is VisitType.follow_up


# ---- first-visit policies ------------------------------------------------------------------------------


def test_a_first_visit_in_scope_of_a_policy_in_force_may_be_diagnosed() -> None:
    decision = decide("U07.1", policies=[FEVER_POLICY])
    assert decision.visit_type is VisitType.first_visit_under_policy
    assert (decision.policy_key, decision.policy_version) == ("fujian-covid19-2023", 1)
    assert decision.reasons[-1].code == "first_visit_policy"


def test_a_presenting_symptom_in_scope_brings_the_case_under_the_policy() -> None:
    assert decide("J20.9", policies=[FEVER_POLICY]).visit_type is VisitType.first_visit_advice_only
    with_fever = decide("J20.9", policies=[FEVER_POLICY], symptoms=["fever"])
    assert with_fever.visit_type is VisitType.first_visit_under_policy


def test_a_diagnosis_outside_the_scope_gets_advice_only() -> None:
    decision = decide("E11.9", policies=[FEVER_POLICY], symptoms=["rash"])
    assert decision.visit_type is VisitType.first_visit_advice_only
    assert not decision.allows_diagnosis
    assert decision.reasons[-1].code == "no_first_visit_policy"


def test_a_policy_applies_only_in_its_region() -> None:
    assert decide("U07.1", region=ZJ, policies=[FEVER_POLICY]).visit_type is VisitType.first_visit_advice_only


@pytest.mark.parametrize(
    ("day", "in_force"),
    [
        (date(2023, 1, 7), False),
        (date(2023, 1, 8), True),  # the first day counts
        (date(2023, 12, 31), True),  # and the last
        (date(2024, 1, 1), False),
    ],
)
def test_a_policy_is_in_force_from_its_first_to_its_last_day(day: date, in_force: bool) -> None:
    decision = decide("R50.9", today=day, policies=[FEVER_POLICY])
    expected = VisitType.first_visit_under_policy if in_force else VisitType.first_visit_advice_only
    assert decision.visit_type is expected


def test_policy_days_are_days_in_china() -> None:
    # 16:30 UTC on 31 December is already 1 January in Shanghai: the policy has ended there.
    late = datetime(2023, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert shanghai_day(late) == date(2024, 1, 1)
    assert decide("R50", today=shanghai_day(late), policies=[FEVER_POLICY]).visit_type is (
        VisitType.first_visit_advice_only
    )
    # and 23:59 on 7 January UTC is 07:59 on 8 January in Shanghai: it has begun.
    early = datetime(2023, 1, 7, 23, 59, tzinfo=ZoneInfo("UTC"))
    assert decide("R50", today=shanghai_day(early), policies=[FEVER_POLICY]).visit_type is (
        VisitType.first_visit_under_policy
    )


def test_a_new_version_of_a_policy_replaces_the_old_one() -> None:
    shortened = PolicyFacts(
        key=FEVER_POLICY.key,
        version=2,
        region_adcode=FJ,
        valid_from=date(2023, 1, 8),
        valid_to=date(2023, 2, 28),
        icd10_categories=FEVER_POLICY.icd10_categories,
        symptom_codes=FEVER_POLICY.symptom_codes,
    )
    assert latest_versions([FEVER_POLICY, shortened]) == [shortened]
    assert decide("R50", policies=[FEVER_POLICY, shortened]).visit_type is VisitType.first_visit_advice_only


# ---- children under 6 and the prescribing decision -----------------------------------------------------


@pytest.mark.parametrize(
    ("born", "on", "under"),
    [
        (date(2020, 3, 1), date(2026, 2, 28), True),  # the day before the 6th birthday
        (date(2020, 3, 1), date(2026, 3, 1), False),  # the 6th birthday
        (date(2020, 2, 29), date(2026, 2, 28), True),  # born on 29 February: 6 on 1 March
        (date(2020, 2, 29), date(2026, 3, 1), False),
    ],
)
def test_under_six_counts_whole_years(born: date, on: date, under: bool) -> None:
    assert is_under_six(born, on) is under
    assert full_years(born, on) == (5 if under else 6)


FOLLOW_UP = VisitDecision(VisitType.follow_up, ())


def test_a_child_under_six_needs_a_guardian_and_a_specialist_for_a_prescription() -> None:
    def rx(guardian: bool | None, specialist: bool | None):  # type: ignore[no-untyped-def]
        return prescribing_decision(
            visits=[FOLLOW_UP],
            doctor_eligible=True,
            under_six=True,
            guardian_present=guardian,
            specialist_present=specialist,
        )

    assert rx(True, True).allowed
    assert [r.code for r in rx(True, False).reasons] == ["specialist_absent"]
    assert [r.code for r in rx(False, True).reasons] == ["guardian_absent"]
    assert [r.code for r in rx(None, None).reasons] == ["guardian_absent", "specialist_absent"]


def test_an_older_patient_needs_no_attendance_record() -> None:
    decision = prescribing_decision(
        visits=[FOLLOW_UP],
        doctor_eligible=True,
        under_six=False,
        guardian_present=None,
        specialist_present=None,
    )
    assert decision.allowed and decision.visit_type is VisitType.follow_up


def test_no_prescription_without_a_diagnosis_an_allowed_visit_or_an_eligible_doctor() -> None:
    advice = decide("E11")
    decision = prescribing_decision(
        visits=[FOLLOW_UP, advice],
        doctor_eligible=False,
        under_six=False,
        guardian_present=None,
        specialist_present=None,
    )
    assert not decision.allowed
    assert decision.visit_type is VisitType.first_visit_advice_only  # the weakest decides
    codes = [r.code for r in decision.reasons]
    assert "no_first_visit_policy" in codes and "doctor_not_eligible" in codes
    empty = prescribing_decision(
        visits=[], doctor_eligible=True, under_six=False, guardian_present=None, specialist_present=None
    )
    assert [r.code for r in empty.reasons] == ["no_diagnosis"]


# ---- retention -------------------------------------------------------------------------------------------


def test_medical_records_are_kept_15_years_and_communications_3() -> None:
    completed = date(2026, 11, 30)
    assert earliest_deletion(RetentionKind.medical_record, completed) == date(2041, 11, 30)
    assert earliest_deletion(RetentionKind.communication, completed) == date(2029, 11, 30)
    assert not may_delete_now(RetentionKind.medical_record, completed, date(2041, 11, 29))
    assert may_delete_now(RetentionKind.medical_record, completed, date(2041, 11, 30))


def test_a_record_of_29_february_may_go_on_1_march() -> None:
    assert add_years(date(2024, 2, 29), 15) == date(2039, 3, 1)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
