"""Builds valid (and deliberately broken) resident identity numbers for tests."""

from __future__ import annotations

from datetime import date

from regio.care.patients.idnumber import check_character


def make_id_number(
    *, area: str = "330106", birth: date = date(1990, 1, 1), sequence: str = "12", sex_digit: int = 3
) -> str:
    """An 18-character number: area (6) + birth date (8) + sequence (2) + sex digit + check character."""
    first17 = f"{area}{birth:%Y%m%d}{sequence}{sex_digit}"
    assert len(first17) == 17
    return first17 + check_character(first17)


def years_ago(years: int, *, days_later: int = 0) -> date:
    """A birth date `years` years before today (Beijing), shifted later by some days."""
    from datetime import timedelta

    from regio.care.patients.idnumber import china_today

    today = china_today()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return born + timedelta(days=days_later)
