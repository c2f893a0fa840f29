"""The registry's pure rules: listing, the 3-year rule, status changes, field checks, masking."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from regio.care.registry import errors, policies, reference
from regio.care.registry.enums import HospitalStatus
from regio.care.registry.policies import ConsultBlock

D = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("status", "valid_from", "valid_to", "listed"),
    [
        ("approved", date(2025, 1, 1), date(2027, 1, 1), True),
        ("approved", D, D, True),  # both ends of the period count
        ("approved", date(2026, 6, 16), date(2027, 1, 1), False),  # not yet valid
        ("approved", date(2020, 1, 1), date(2026, 6, 14), False),  # expired yesterday
        ("suspended", date(2025, 1, 1), date(2027, 1, 1), False),
        ("revoked", date(2025, 1, 1), date(2027, 1, 1), False),
    ],
)
def test_a_hospital_is_listed_only_while_approved_and_inside_its_licence_period(
    status: str, valid_from: date, valid_to: date, listed: bool
) -> None:
    assert (
        policies.is_listed(status=status, licence_valid_from=valid_from, licence_valid_to=valid_to, today=D)
        is listed
    )


def test_today_is_the_calendar_day_in_shanghai_not_in_utc() -> None:
    # 16:30 UTC on 31 December is 00:30 on 1 January in Beijing: a licence ending 31 December is over.
    assert policies.shanghai_today(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == date(2027, 1, 1)
    assert policies.shanghai_today(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("since", "on", "years"),
    [
        (date(2023, 6, 15), date(2026, 6, 15), 3),
        (date(2023, 6, 16), date(2026, 6, 15), 2),  # one day short of the anniversary
        (date(2020, 2, 29), date(2023, 2, 28), 2),  # a leap-day start completes its year on 1 March
        (date(2020, 2, 29), date(2023, 3, 1), 3),
        (date(2027, 1, 1), date(2026, 6, 15), 0),
    ],
)
def test_years_of_practice_count_whole_anniversaries(since: date, on: date, years: int) -> None:
    assert policies.full_years_between(since, on) == years


def test_a_verified_doctor_with_three_full_years_may_consult_online() -> None:
    assert (
        policies.consult_blocks(
            real_name_verified=True, independent_practice_since=date(2023, 6, 15), today=D
        )
        == []
    )


def test_a_doctor_one_day_short_of_three_years_may_not_consult_online() -> None:
    blocks = policies.consult_blocks(
        real_name_verified=True, independent_practice_since=date(2023, 6, 16), today=D
    )
    assert blocks == [ConsultBlock.too_few_years]


def test_an_unverified_doctor_may_not_consult_online_however_senior() -> None:
    blocks = policies.consult_blocks(
        real_name_verified=False, independent_practice_since=date(1990, 1, 1), today=D
    )
    assert blocks == [ConsultBlock.not_verified]
    assert not policies.may_consult_online(
        real_name_verified=False, independent_practice_since=date(1990, 1, 1), today=D
    )


def test_the_refusal_cites_the_national_measures() -> None:
    error = errors.DoctorNotEligibleOnline()
    assert "互联网诊疗管理办法(试行)" in error.message("zh")
    assert "Internet Diagnosis and Treatment" in error.message("en")
    assert error.status == 403


@pytest.mark.parametrize(
    ("current", "requested", "allowed"),
    [
        ("approved", HospitalStatus.suspended, True),
        ("suspended", HospitalStatus.approved, True),
        ("approved", HospitalStatus.revoked, True),
        ("suspended", HospitalStatus.revoked, True),
        ("revoked", HospitalStatus.approved, False),
        ("revoked", HospitalStatus.suspended, False),
        ("approved", HospitalStatus.approved, True),
    ],
)
def test_a_revoked_licence_is_final(current: str, requested: HospitalStatus, allowed: bool) -> None:
    assert policies.may_change_status(current, requested) is allowed


@pytest.mark.parametrize(
    ("adcode", "ok"),
    [
        ("330100", True),
        ("331100", True),
        ("440300", True),  # Shenzhen: a province this build knows no city list for
        ("441900", True),  # Dongguan: a prefecture without counties
        ("331200", False),  # Zhejiang has 11 cities; 3312 is none of them
        ("330000", False),  # a province, not a city
        ("330106", False),  # a district, not a city
        ("990100", False),  # no such province
        ("33010", False),
        ("33O100", False),
        ("", False),
    ],
)
def test_city_codes_must_be_prefecture_level_gb_t_2260_codes(adcode: str, ok: bool) -> None:
    problem = policies.adcode_problem("city_adcode", adcode, reference.places())
    assert (problem is None) is ok
    if problem is not None:
        assert problem.error.code == "invalid_adcode"


def test_a_period_that_ends_before_it_starts_is_refused_with_a_stable_code() -> None:
    problem = policies.period_problem("licence_valid_to", date(2026, 1, 2), date(2026, 1, 1))
    assert problem is not None and problem.error.code == "invalid_licence_period"
    assert policies.period_problem("licence_valid_to", date(2026, 1, 1), date(2026, 1, 1)) is None


def test_departments_are_found_by_code_chinese_name_english_name_or_alias() -> None:
    codes, problems = policies.department_codes(
        "d", ["respiratory", "儿科", "Fever clinic", "心理科", "呼吸科"], reference.department_lookup()
    )
    assert codes == ["respiratory", "pediatrics", "fever_clinic", "psychiatry"]  # 呼吸科 repeats respiratory
    assert problems == []
    codes, problems = policies.department_codes("d", ["不存在科"], reference.department_lookup())
    assert codes == [] and problems[0].error.code == "unknown_department"


@pytest.mark.parametrize(
    ("licence", "masked"),
    [
        ("110330106000123", "110*********123"),
        ("DEMO-D-000001", "DEM*******001"),
        ("ABCDEFGH", "AB****GH"),
        ("ABCD", "A***"),
    ],
)
def test_licence_numbers_are_masked_keeping_only_their_ends(licence: str, masked: str) -> None:
    assert policies.mask_licence(licence) == masked
    assert len(policies.mask_licence(licence)) == len(licence)


def test_the_rules_take_reference_data_as_arguments_and_read_no_files() -> None:
    """The adcode and department rules decide from what they are given, not from the data files."""
    places = policies.Places(provinces=frozenset({"990000"}), cities=frozenset({"990100"}))
    assert policies.adcode_problem("city", "990100", places) is None
    assert policies.adcode_problem("city", "990200", places) is not None  # a province whose cities are known
    assert policies.adcode_problem("city", "330100", places) is not None  # Zhejiang is not in this list
    codes, problems = policies.department_codes("d", ["Made-up ward"], {"made-up ward": "made_up"})
    assert (codes, problems) == (["made_up"], [])
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(policies))
    imported = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert not any("reference" in name for name in imported), imported


@pytest.mark.parametrize(
    ("scope_id", "hospital_id"),
    [
        ("7", 7),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("9" * 400, None),
        ("0", None),
        ("007", None),
        ("-1", None),
        ("", None),
        ("١٢", None),  # Arabic-Indic digits are digits to Python, not ids
        ("3 ", None),
    ],
)
def test_a_hospital_scope_names_an_id_only_within_bigint(scope_id: str, hospital_id: int | None) -> None:
    assert policies.hospital_id_of_scope(scope_id) == hospital_id


@pytest.mark.parametrize("header", ["١", "9" * 19, '"' + "9" * 30 + '"', 'W/"²"', "-1"])
def test_an_if_match_that_is_no_plain_version_number_is_refused(header: str) -> None:
    from regio.care.registry import service

    with pytest.raises(errors.InvalidIfMatch):
        service.parse_if_match(header)
    assert service.parse_if_match('W/"12"') == 12 and service.parse_if_match("*") is None
