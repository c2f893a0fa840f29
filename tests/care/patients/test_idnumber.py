"""GB 11643-1999 resident identity numbers and mainland mobile numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regio.care.patients.errors import InvalidIdNumber, InvalidPhone
from regio.care.patients.idnumber import (
    Sex,
    age_on,
    check_character,
    china_today,
    normalize_phone,
    parse_id_number,
    province_codes,
)
from tests.care.patients.idgen import make_id_number

# The first is the example commonly quoted with GB 11643-1999; the second a Guangdong number of 1980.
KNOWN_VALID = ["11010519491231002X", "440524198001010013"]

PROVINCES = sorted(province_codes())


def reason_of(value: str, today: date | None = None) -> str:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(value, today=today)
    return str(caught.value.details["reason"])


@pytest.mark.parametrize("value", KNOWN_VALID)
def test_the_standards_examples_are_valid(value: str) -> None:
    assert parse_id_number(value).value == value


def test_birth_date_and_sex_are_derived() -> None:
    parsed = parse_id_number("11010519491231002X")
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex is Sex.female  # 17th digit 2 is even
    assert parse_id_number("440524198001010013").sex is Sex.male  # 17th digit 1 is odd


def test_a_lowercase_x_is_accepted_and_stored_uppercase() -> None:
    assert parse_id_number("11010519491231002x").value == "11010519491231002X"


def test_surrounding_spaces_are_ignored() -> None:
    assert parse_id_number(" 11010519491231002X\n").value == "11010519491231002X"


def test_the_check_character_uses_mod_11_2_weights() -> None:
    # 1×7+1×9+0×10+1×5+0×8+5×4+1×2+9×1+4×6+9×3+1×7+2×9+3×10+1×5+0×8+0×4+2×2 = 167; 167 mod 11 = 2 → X
    assert check_character("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231002", "length"),
        ("11010519491231002XX", "length"),
        ("", "length"),
        ("110105194912310O2X", "characters"),  # letter O for zero
        ("1101051949123100X2", "characters"),  # X only in the last place
        ("１１０１０５１９４９１２３１００２X", "characters"),  # full-width digits
        ("19010519491231002X", "region"),
        ("00010519491231002X", "region"),
        ("72010519491231002X", "region"),
        ("110105194902300027", "birth_date"),  # 30 February
        ("110105189912310027", "birth_date"),  # before 1900
        ("11010519491231002Y", "characters"),
        ("110105194912310021", "check_digit"),
    ],
)
def test_each_failure_names_its_reason(value: str, reason: str) -> None:
    assert reason_of(value) == reason


def test_a_birth_date_in_the_future_is_refused_but_today_is_accepted() -> None:
    today = china_today()
    assert parse_id_number(make_id_number(birth=today), today=today).birth_date == today
    assert reason_of(make_id_number(birth=today + timedelta(days=1)), today=today) == "birth_date"


def test_historical_county_codes_are_accepted() -> None:
    # 330106 Xihu District of Hangzhou; 330101 was Hangzhou's former city-district code, since abolished.
    assert parse_id_number(make_id_number(area="330101"))


def test_the_refusal_speaks_both_languages_and_has_a_stable_code() -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number("110105194912310021")
    body = caught.value.to_body("zh-CN")["error"]
    assert body["code"] == "invalid_id_number"
    assert caught.value.status == 422
    assert "校验位" in body["message_zh"]
    assert "check character" in body["message_en"]
    assert body["details"] == {"reason": "check_digit"}


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PROVINCES))
    county = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=china_today()))
    sequence = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    first17 = f"{province}{county}{birth:%Y%m%d}{sequence}"
    return first17 + check_character(first17)


@settings(max_examples=300)
@given(valid_numbers())
def test_every_generated_valid_number_passes(value: str) -> None:
    parsed = parse_id_number(value)
    assert parsed.value == value
    assert parsed.birth_date == date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    assert (parsed.sex is Sex.male) == (int(value[16]) % 2 == 1)


@settings(max_examples=500)
@given(valid_numbers(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789XxA "))
def test_changing_any_single_character_is_rejected(value: str, position: int, replacement: str) -> None:
    changed = value[:position] + replacement + value[position + 1 :]
    if changed.upper() == value:
        return  # not a change (x and X are the same character)
    with pytest.raises(InvalidIdNumber):
        parse_id_number(changed)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("19912345678", "19912345678"),
    ],
)
def test_mainland_mobile_numbers_are_normalised(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "02112345678",
        "+85291234567",
        "１３８１２３４５６７８",
        "",
    ],
)
def test_other_phone_numbers_are_refused_as_invalid_phone(raw: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize_phone(raw)
    assert caught.value.code == "invalid_phone"
    assert caught.value.status == 422


def test_age_counts_completed_years() -> None:
    assert age_on(date(2000, 6, 15), date(2018, 6, 14)) == 17
    assert age_on(date(2000, 6, 15), date(2018, 6, 15)) == 18
    assert age_on(date(2004, 2, 29), date(2022, 2, 28)) == 17
    assert age_on(date(2004, 2, 29), date(2022, 3, 1)) == 18
