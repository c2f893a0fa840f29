"""The safety-check engine rule by rule on a hand-written catalog, then properties over the shipped data."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regio.care.prescription import catalog, checks, interactions
from regio.care.prescription.checks import (
    FREQUENCIES,
    ROUTES,
    Finding,
    Kind,
    Line,
    Patient,
    Severity,
    blocking,
    check,
    needing_override,
)
from tests.care.prescription.test_catalog import sample_catalog
from tests.care.prescription.test_interactions import sample_table

CATALOG = sample_catalog()
TABLE = sample_table()
ADULT = Patient(age_years=40, sex="male", weight_kg=70)


def line(
    code: str, dose: float = 1, unit: str = "mg", frequency: str = "qd", days: int = 5, **extra: float
) -> Line:
    return Line(code, dose, unit, "po", frequency, days, **extra)


# Safe everyday lines: within every limit and free of interactions among themselves
AMOXICILLIN = line("D0001", 500, frequency="tid")
PARACETAMOL = line("D0010", 0.5, "g", "tid")
SIMVASTATIN = line("D0005", 20)
METFORMIN = line("D0011", 500, frequency="tid")


def run(
    *lines: Line,
    patient: Patient = ADULT,
    kind: Kind = Kind.ordinary,
    table: interactions.InteractionTable = TABLE,
) -> list[Finding]:
    return check(patient, lines, kind=kind, catalog=CATALOG, interactions=table)


def keys(findings: list[Finding], check_name: str | None = None) -> dict[str, Severity]:
    return {f.key: f.severity for f in findings if check_name is None or f.check == check_name}


def test_a_safe_prescription_has_no_findings() -> None:
    assert run(AMOXICILLIN) == []
    assert run(SIMVASTATIN, PARACETAMOL) == []


def test_the_frequency_and_route_tables_hold_the_codes_the_form_offers() -> None:
    assert FREQUENCIES["tid"][0] == 3 and FREQUENCIES["q6h"][0] == 4 and FREQUENCIES["qod"][0] == 0.5
    assert FREQUENCIES["qw"][0] == pytest.approx(1 / 7) and FREQUENCIES["prn"][0] is None
    assert FREQUENCIES["qn"][1] == "每晚一次" and FREQUENCIES["st"][1] == "立即"
    assert set(ROUTES) == {"po", "iv", "im", "sc", "inh", "top", "oph", "sl", "pr", "nas"}
    assert ROUTES["inh"][0] == "吸入" and ROUTES["top"][0] == "外用"


# 1. prescribing rules


def test_a_controlled_drug_may_not_be_prescribed_online_naming_its_class() -> None:
    findings = run(line("D0008", 30, frequency="q12h"), line("D0009", 2.5))
    controlled = [f for f in findings if f.check == "controlled_drug"]
    assert {f.key for f in controlled} == {"controlled_drug:D0008", "controlled_drug:D0009"}
    assert all(f.severity is Severity.contraindicated and "第十九条" in f.source for f in controlled)
    morphine = next(f for f in controlled if f.drugs == ("D0008",))
    assert "麻醉药品" in morphine.message_zh and "narcotic" in morphine.message_en
    assert "第二类精神药品" in next(f for f in controlled if f.drugs == ("D0009",)).message_zh
    assert keys(run(AMOXICILLIN), "controlled_drug") == {}


@pytest.mark.parametrize(
    ("kind", "allowed", "too_many"),
    [(Kind.ordinary, 7, 8), (Kind.emergency, 3, 4)],
)
def test_days_over_the_limit_of_an_ordinary_or_emergency_prescription(
    kind: Kind, allowed: int, too_many: int
) -> None:
    assert keys(run(line("D0001", 500, frequency="tid", days=allowed), kind=kind), "quantity") == {}
    findings = run(line("D0001", 500, frequency="tid", days=too_many), kind=kind)
    assert keys(findings, "quantity") == {"quantity:D0001": Severity.contraindicated}
    assert findings[0].source == "处方管理办法 第十九条" and str(allowed) in findings[0].message_zh


CHRONIC = Patient(age_years=60, sex="male", weight_kg=70, diagnoses=("I10", "e11.900"))


def test_a_long_term_prescription_needs_a_chronic_diagnosis() -> None:
    assert keys(run(line("D0011", 500, frequency="tid", days=28), patient=CHRONIC, kind=Kind.long_term)) == {}
    acute = Patient(age_years=60, sex="male", weight_kg=70, diagnoses=("J06.9",))
    findings = run(line("D0011", 500, frequency="tid", days=28), patient=acute, kind=Kind.long_term)
    assert keys(findings) == {"long_term:diagnosis": Severity.contraindicated}
    # a long-term prescription is not held to the 7 days of an ordinary one
    assert "quantity:D0011" not in keys(findings)


@pytest.mark.parametrize(
    ("days", "severity"),
    [(28, None), (29, Severity.major), (84, Severity.major), (85, Severity.contraindicated)],
)
def test_long_term_days_over_4_weeks_need_a_reason_and_over_12_weeks_are_forbidden(
    days: int, severity: Severity | None
) -> None:
    findings = run(line("D0011", 500, frequency="tid", days=days), patient=CHRONIC, kind=Kind.long_term)
    expected = {} if severity is None else {"long_term:D0011": severity}
    assert keys(findings, "long_term") == expected
    if severity is Severity.contraindicated:
        assert findings[0].source == "长期处方管理规范(试行) 第十三条"


@pytest.mark.parametrize("bad", [line("D0001", 0), line("D0001", 500, days=0), line("D0001", float("nan"))])
def test_zero_days_or_a_non_positive_dose_is_an_input_error(bad: Line) -> None:
    with pytest.raises(ValueError, match="caller"):
        run(bad)


# 2. interactions


def test_an_interaction_is_found_in_either_order_with_the_rows_severity_and_source() -> None:
    clarithromycin = line("D0006", 250, frequency="bid")
    for lines in ((SIMVASTATIN, clarithromycin), (clarithromycin, SIMVASTATIN)):
        findings = run(*lines)
        assert keys(findings, "interaction") == {"interaction:D0005:D0006": Severity.contraindicated}
        finding = findings[0]
        assert finding.drugs == ("D0005", "D0006") and finding.source == "辛伐他汀说明书"
        assert "辛伐他汀" in finding.message_zh and "clarithromycin" in finding.message_en
        assert finding.management_zh.startswith("禁止合用")


def test_several_rows_for_one_pair_make_one_finding_at_the_worst_severity() -> None:
    findings = run(line("D0003", 3), line("D0006", 250, frequency="bid"))
    found = [f for f in findings if f.check == "interaction"]
    assert len(found) == 1 and found[0].severity is Severity.major
    assert "INR升高" in found[0].message_zh and "INR可能升高" in found[0].message_zh


def test_a_class_row_matches_every_member_of_the_class() -> None:
    findings = run(line("D0003", 3), line("D0016", 300, frequency="bid"))
    assert keys(findings, "interaction") == {"interaction:D0003:D0016": Severity.major}


def test_drugs_the_table_does_not_cover_get_a_no_data_finding_only_beside_other_drugs() -> None:
    assert keys(run(METFORMIN)) == {}
    findings = run(METFORMIN, AMOXICILLIN)
    assert keys(findings, "no_interaction_data") == {
        "no_interaction_data:D0011": Severity.no_data,
        "no_interaction_data:D0001": Severity.no_data,
    }
    message = next(f for f in findings if f.key == "no_interaction_data:D0011")
    assert "互作表中无" in message.message_zh and "No interaction data for metformin" in message.message_en
    assert "no_interaction_data:D0005" not in keys(run(SIMVASTATIN, METFORMIN))


# 3. duplicate therapy


def test_the_same_substance_twice_is_major_and_the_same_subgroup_moderate() -> None:
    granules = line("D0013", 250, frequency="tid")
    assert keys(run(AMOXICILLIN, granules), "duplicate_therapy") == {
        "duplicate_therapy:D0001:D0013": Severity.major
    }
    naproxen = line("D0017", 250, frequency="bid")
    findings = run(line("D0016", 300, frequency="bid"), naproxen)
    assert keys(findings, "duplicate_therapy") == {"duplicate_therapy:D0016:D0017": Severity.moderate}
    # two statins of one subgroup, but the same drug never pairs with a different subgroup
    assert keys(run(AMOXICILLIN, SIMVASTATIN), "duplicate_therapy") == {}


# 4. allergies


@pytest.mark.parametrize("entry", ["D0001", "d0001", "阿莫西林", "Amoxicillin", "J01CA04", "J01C", "阿莫仙"])
def test_an_allergy_by_code_name_brand_or_atc_selector_forbids_the_drug(entry: str) -> None:
    patient = Patient(age_years=30, sex="male", weight_kg=60, allergies=(entry,))
    findings = run(AMOXICILLIN, PARACETAMOL, patient=patient)
    assert keys(findings, "allergy") == {"allergy:D0001": Severity.contraindicated}
    assert findings[0].source == "药品说明书"


def test_an_allergy_to_one_product_covers_other_products_of_the_same_substance() -> None:
    patient = Patient(age_years=30, sex="male", weight_kg=60, allergies=("D0001",))
    assert keys(run(line("D0013", 250, frequency="tid"), patient=patient), "allergy") == {
        "allergy:D0013": Severity.contraindicated
    }


def test_a_penicillin_allergy_makes_cephalosporins_and_carbapenems_major_but_not_aztreonam() -> None:
    patient = Patient(age_years=30, sex="male", weight_kg=60, allergies=("青霉素类",))
    findings = run(
        line("D0002", 250, frequency="bid"),
        line("D0014", 0.5, "g", "q6h"),
        line("D0015", 1, "g", "q8h"),
        patient=patient,
    )
    assert keys(findings, "allergy") == {"allergy:D0002": Severity.major, "allergy:D0014": Severity.major}
    assert "BNF" in findings[0].source or "说明书" in findings[0].source
    # no penicillin allergy, no cross-sensitivity
    other = Patient(age_years=30, sex="male", weight_kg=60, allergies=("阿司匹林",))
    assert keys(run(line("D0002", 250, frequency="bid"), patient=other), "allergy") == {}


def test_an_allergy_nothing_knows_gives_one_no_data_finding() -> None:
    patient = Patient(age_years=30, sex="male", weight_kg=60, allergies=("海鲜", "海鲜", " ", "阿莫西林"))
    findings = run(AMOXICILLIN, patient=patient)
    assert keys(findings, "allergy") == {
        "allergy_unchecked:海鲜": Severity.no_data,
        "allergy:D0001": Severity.contraindicated,
    }
    assert "海鲜" in next(f for f in findings if f.key == "allergy_unchecked:海鲜").message_zh


# 5. pregnancy and lactation


PREGNANT = Patient(age_years=28, sex="female", weight_kg=60, pregnant=True, trimester=1)


def test_pregnancy_avoid_forbids_caution_warns_and_no_data_says_so() -> None:
    findings = run(
        line("D0003", 3), line("D0006", 250, frequency="bid"), METFORMIN, AMOXICILLIN, patient=PREGNANT
    )
    assert keys(findings, "pregnancy") == {
        "pregnancy:D0003": Severity.contraindicated,
        "pregnancy:D0006": Severity.moderate,
        "pregnancy:D0011": Severity.no_data,
    }
    warfarin = next(f for f in findings if f.key == "pregnancy:D0003")
    assert "孕妇" in warfarin.message_zh and "妊娠第 1 期" in warfarin.message_zh


def test_a_woman_of_child_bearing_age_of_unknown_pregnancy_status_gets_one_no_data_finding() -> None:
    unknown = Patient(age_years=30, sex="female", weight_kg=55)
    assert keys(run(AMOXICILLIN, PARACETAMOL, patient=unknown), "pregnancy") == {
        "pregnancy:status_unknown": Severity.no_data
    }
    for patient in (
        Patient(age_years=60, sex="female", weight_kg=55),
        Patient(age_years=30, sex="female", weight_kg=55, pregnant=False),
        Patient(age_years=30, sex="male", weight_kg=55),
    ):
        assert keys(run(AMOXICILLIN, patient=patient), "pregnancy") == {}


def test_lactation_avoid_is_major_caution_moderate_and_no_data_says_so() -> None:
    nursing = Patient(age_years=30, sex="female", weight_kg=55, pregnant=False, lactating=True)
    findings = run(SIMVASTATIN, line("D0006", 250, frequency="bid"), METFORMIN, AMOXICILLIN, patient=nursing)
    assert keys(findings, "lactation") == {
        "lactation:D0005": Severity.major,
        "lactation:D0006": Severity.moderate,
        "lactation:D0011": Severity.no_data,
    }


# 6. doses


def test_an_adult_daily_dose_over_the_maximum_is_major_and_names_both_figures() -> None:
    # 1 g four times a day is 4000 mg; the sample's paracetamol maximum is 2000 mg
    findings = run(line("D0010", 1, "g", "qid"))
    assert keys(findings) == {"max_daily_dose:D0010": Severity.major}
    assert "4000 mg" in findings[0].message_zh and "2000 mg" in findings[0].message_zh
    assert keys(run(line("D0010", 500, "mg", "qid"))) == {}  # exactly the maximum


def test_two_lines_of_one_drug_add_up() -> None:
    assert keys(
        run(line("D0010", 500, frequency="bid"), line("D0010", 500, frequency="tid")), "max_daily_dose"
    ) == {"max_daily_dose:D0010": Severity.major}


def test_units_convert_between_g_mg_and_ug_only() -> None:
    assert keys(run(line("D0010", 500_000, "ug", "tid"))) == {}
    assert keys(run(line("D0010", 800_000, "ug", "tid"))) == {"max_daily_dose:D0010": Severity.major}
    assert keys(run(line("D0010", 5, "ml", "tid"))) == {"unit_mismatch:D0010": Severity.no_data}


def test_as_needed_dosing_uses_the_daily_maximum_of_doses_or_says_it_could_not_check() -> None:
    assert keys(run(line("D0010", 500, frequency="prn", prn_max_per_day=4))) == {}
    assert keys(run(line("D0010", 1000, frequency="prn", prn_max_per_day=4))) == {
        "max_daily_dose:D0010": Severity.major
    }
    assert keys(run(line("D0010", 500, frequency="prn"))) == {"max_daily_dose:D0010": Severity.no_data}


def test_less_than_daily_frequencies_average_the_dose_over_the_days() -> None:
    assert keys(run(line("D0003", 14, frequency="qod"))) == {}
    assert keys(run(line("D0003", 21, frequency="qod"))) == {"max_daily_dose:D0003": Severity.major}


def test_an_adult_dose_without_a_known_maximum_is_no_data() -> None:
    assert keys(run(line("D0018", 10, "IU", "tid"))) == {"max_daily_dose:D0018": Severity.no_data}


def test_an_unknown_frequency_is_no_data_not_an_error() -> None:
    assert keys(run(line("D0010", 500, frequency="q3d"))) == {"max_daily_dose:D0010": Severity.no_data}


CHILD = Patient(age_years=6, sex="male", weight_kg=20)


def test_a_childs_daily_dose_is_held_to_the_per_kg_maximum() -> None:
    # paracetamol 60 mg/kg/day for 20 kg: 1200 mg
    assert keys(run(line("D0010", 300, frequency="qid"), patient=CHILD)) == {}
    findings = run(line("D0010", 400, frequency="qid"), patient=CHILD)
    assert keys(findings) == {"paediatric_dose:D0010": Severity.major}
    assert "1200 mg" in findings[0].message_zh and "1600 mg" in findings[0].message_zh


def test_a_child_without_a_weight_or_a_drug_without_paediatric_data_is_no_data() -> None:
    no_weight = Patient(age_years=6, sex="male")
    assert keys(run(line("D0010", 100, frequency="tid"), patient=no_weight)) == {
        "paediatric_dose:D0010": Severity.no_data
    }
    assert keys(run(line("D0003", 1), patient=CHILD)) == {"paediatric_dose:D0003": Severity.no_data}


def test_a_child_below_the_drugs_minimum_age_is_major() -> None:
    findings = run(line("D0005", 10), patient=CHILD)
    assert keys(findings, "child_age") == {"child_age:D0005": Severity.major}
    teenager = Patient(age_years=12, sex="male", weight_kg=45)
    assert keys(run(line("D0005", 10), patient=teenager), "child_age") == {}


def test_a_child_is_never_above_the_adult_maximum() -> None:
    heavy = Patient(age_years=16, sex="male", weight_kg=100)
    # 90 mg/kg/day would allow 9000 mg; the adult maximum is 4000 mg
    findings = run(line("D0001", 1500, frequency="tid"), patient=heavy)
    assert keys(findings) == {"max_daily_dose:D0001": Severity.major}


# unknown drugs, sorting and the helpers


def test_an_unknown_drug_code_gets_one_finding_and_no_other_check() -> None:
    findings = run(line("X9999", 1, days=30), line("X9999", 2), AMOXICILLIN)
    assert keys(findings) == {"unknown_drug:X9999": Severity.no_data}


def test_findings_are_sorted_and_blocking_and_needing_override_pick_their_severity() -> None:
    findings = run(
        line("D0008", 30),
        line("D0003", 3),
        line("D0004", 100),
        line("D0010", 1, "g", "qid", days=9),
        METFORMIN,
        patient=PREGNANT,
    )
    order = list(Severity)
    ranks = [(order.index(f.severity), f.key) for f in findings]
    assert ranks == sorted(ranks)
    assert blocking(findings) and all(f.severity is Severity.contraindicated for f in blocking(findings))
    assert {f.key for f in needing_override(findings)} >= {"interaction:D0003:D0004", "max_daily_dose:D0010"}
    assert all(f.severity is Severity.major for f in needing_override(findings))
    assert list(Severity) == [
        Severity.contraindicated,
        Severity.major,
        Severity.moderate,
        Severity.minor,
        Severity.no_data,
    ]


# Properties over the shipped catalog and table


def shipped() -> tuple[dict[str, catalog.Drug], interactions.InteractionTable]:
    return dict(catalog.shipped_by_code()), interactions.shipped_interactions()


@st.composite
def patients(draw: st.DrawFn) -> Patient:
    drugs = catalog.shipped_catalog()
    age = draw(st.floats(min_value=0, max_value=110, allow_nan=False))
    sex = draw(st.sampled_from(["male", "female", "unknown"]))
    allergy = st.one_of(
        st.sampled_from([d.code for d in drugs]),
        st.sampled_from([d.name_zh for d in drugs] + [d.name_en for d in drugs]),
        st.sampled_from(["J01C", "J01", "B01AC06", "M01A", "青霉素类", "花粉"]),
        st.text(max_size=8),
    )
    return Patient(
        age_years=age,
        sex=sex,
        weight_kg=draw(st.none() | st.floats(min_value=0.5, max_value=200, allow_nan=False)),
        pregnant=draw(st.none() | st.booleans()),
        trimester=draw(st.none() | st.integers(min_value=1, max_value=3)),
        lactating=draw(st.none() | st.booleans()),
        allergies=tuple(draw(st.lists(allergy, max_size=3))),
        diagnoses=tuple(draw(st.lists(st.sampled_from(["I10", "E11.9", "J06.9", "K29"]), max_size=2))),
    )


@st.composite
def lines(draw: st.DrawFn) -> Line:
    drugs = catalog.shipped_catalog()
    code = draw(st.sampled_from([d.code for d in drugs] + ["NOPE1"]))
    return Line(
        drug_code=code,
        dose=draw(st.floats(min_value=0.001, max_value=1e5, allow_nan=False, allow_infinity=False)),
        dose_unit=draw(st.sampled_from(["mg", "g", "ug", "ml", "IU", "puff", "drop", "unit"])),
        route=draw(st.sampled_from(sorted(ROUTES))),
        frequency=draw(st.sampled_from(sorted(FREQUENCIES))),
        days=draw(st.integers(min_value=1, max_value=365)),
        prn_max_per_day=draw(st.none() | st.floats(min_value=0.5, max_value=24, allow_nan=False)),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patients(), st.lists(lines(), min_size=1, max_size=10), st.sampled_from(list(Kind)))
def test_check_never_raises_over_the_shipped_catalog_and_its_findings_are_sorted(
    patient: Patient, prescription: list[Line], kind: Kind
) -> None:
    drugs, table = shipped()
    findings = check(patient, prescription, kind=kind, catalog=drugs, interactions=table)
    order = list(Severity)
    ranks = [(order.index(f.severity), f.key) for f in findings]
    assert ranks == sorted(ranks)
    assert len({f.key for f in findings}) == len(findings)
    assert all(f.message_zh and f.message_en and f.source for f in findings)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patients(), st.lists(lines(), min_size=1, max_size=8), lines())
def test_adding_a_line_never_removes_an_interaction_among_the_others(
    patient: Patient, prescription: list[Line], extra: Line
) -> None:
    drugs, table = shipped()
    before = check(patient, prescription, kind=Kind.ordinary, catalog=drugs, interactions=table)
    after = check(patient, [*prescription, extra], kind=Kind.ordinary, catalog=drugs, interactions=table)
    interactions_after = {f.key: f for f in after if f.check == "interaction"}
    for finding in before:
        if finding.check == "interaction":
            assert interactions_after[finding.key] == finding


def test_an_unknown_breastfeeding_status_of_a_woman_of_child_bearing_age_is_said_not_passed() -> None:
    from regio.care.prescription.catalog import shipped_by_code, shipped_catalog
    from regio.care.prescription.interactions import shipped_interactions

    amlodipine = next(d for d in shipped_catalog() if d.name_en.lower() == "amlodipine")
    line = checks.Line(drug_code=amlodipine.code, dose=5, dose_unit="mg", route="po", frequency="qd", days=7)

    def keys(lactating: bool | None) -> set[str]:
        patient = checks.Patient(
            age_years=30, sex="female", pregnant=False, lactating=lactating, weight_kg=60
        )
        found = checks.check(
            patient,
            [line],
            kind=checks.Kind.ordinary,
            catalog=shipped_by_code(),
            interactions=shipped_interactions(),
        )
        return {f.key for f in found}

    assert "lactation:status_unknown" in keys(None)
    assert "lactation:status_unknown" not in keys(False)
