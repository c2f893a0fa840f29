"""PRC resident identity numbers (GB 11643-1999) and mainland mobile numbers: check, normalise, derive.

Pure functions with no I/O beyond reading the packaged province list once, so policies,
services and tests can all use them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from regio.care.patients.errors import InvalidIdNumber, InvalidPhone

CHINA_TZ = ZoneInfo("Asia/Shanghai")
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
ADULT_AGE = 18
# DOMAIN.md rule 3: a child under 6 is prescribed for online only with a guardian present.
GUARDIAN_PRESENCE_AGE = 6

# ISO 7064 MOD 11-2 as GB 11643-1999 clause 5.4 writes it: weight of position i is 2^(17-i) mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"  # indexed by the weighted sum mod 11

_PHONE = re.compile(r"1[3-9]\d{9}")
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")


class Sex(StrEnum):
    male = "male"
    female = "female"


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A checked identity number in its stored form (uppercase X) with what it says."""

    value: str
    birth_date: date
    sex: Sex

    @property
    def region_code(self) -> str:
        return self.value[:2]


@cache
def province_codes() -> frozenset[str]:
    """The province-level codes of GB/T 2260, from the packaged data file."""
    path = Path(__file__).resolve().parent / "data" / "province_codes.csv"
    with path.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return frozenset(row["code"] for row in rows)


def china_today() -> date:
    """Today's date where the patients are; birthdays and ages turn over at Beijing midnight."""
    return datetime.now(CHINA_TZ).date()


def check_character(first_seventeen: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first_seventeen, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Checks a resident identity number and derives birth date and sex, or raises InvalidIdNumber.

    The reason names the first rule the number breaks, in the order a person would check
    it: length, characters, region, birth date, check character.
    """
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidIdNumber(reason="length")
    # isdigit() accepts other scripts' digits (full-width, Arabic-Indic); only ASCII is valid here.
    if not (value[:17].isascii() and value[:17].isdigit() and value[17] in "0123456789X"):
        raise InvalidIdNumber(reason="characters")
    if value[:2] not in province_codes():
        raise InvalidIdNumber(reason="region")
    try:
        birth_date = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber(reason="birth_date") from None
    if not EARLIEST_BIRTH_DATE <= birth_date <= (today or china_today()):
        raise InvalidIdNumber(reason="birth_date")
    if check_character(value[:17]) != value[17]:
        raise InvalidIdNumber(reason="check_digit")
    sex = Sex.male if int(value[16]) % 2 == 1 else Sex.female
    return IdNumber(value=value, birth_date=birth_date, sex=sex)


def normalize_phone(raw: str) -> str:
    """A mainland mobile number as its 11 digits; +86 / 0086 and spaces or dashes are tolerated."""
    value = _PHONE_SEPARATORS.sub("", raw)
    for prefix in ("+86", "0086", "86"):
        if value.startswith(prefix) and len(value) == len(prefix) + 11:
            value = value[len(prefix) :]
            break
    if not (value.isascii() and _PHONE.fullmatch(value)):
        raise InvalidPhone()
    return value


def age_on(birth_date: date, today: date) -> int:
    """Completed years of life on a given day (a 29 February birthday counts from 1 March)."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years
