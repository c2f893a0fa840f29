"""Pure rules of the registry: who may do what, when a hospital is listed, who may consult online.

No I/O: reference data (provinces, cities, the department list) is passed in by the caller,
which loads it through `reference`.

Sources: 互联网诊疗管理办法(试行) and 互联网医院管理办法(试行) (国卫医发〔2018〕25号) for the
doctor rule; the listing rule is the platform's reading of "approved and licensed today".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from regio.care.registry import errors
from regio.care.registry.enums import DoctorTitle, HospitalLevel, HospitalStatus
from regio.core.access import Principal, Role, ScopeKind
from regio.core.db import MAX_ID
from regio.core.errors import DomainError

SHANGHAI = ZoneInfo("Asia/Shanghai")

# 互联网诊疗管理办法(试行): doctors serving online need 3 years of independent clinical practice.
MIN_YEARS_OF_PRACTICE = 3

# Ids are BIGINT on PostgreSQL: a scope naming a larger number names no hospital at all.


def shanghai_today(now: datetime) -> date:
    """The calendar day in China: a licence ending "2026-12-31" still counts at 23:30 Beijing time."""
    return now.astimezone(SHANGHAI).date()


# ---- listing on the public portal -----------------------------------------------------------------


def hospital_id_of_scope(scope_id: str) -> int | None:
    """The hospital id a role scope names: canonical ASCII digits from 1 to 2**63-1, else None."""
    if not (0 < len(scope_id) <= 19 and scope_id.isascii() and scope_id.isdigit()) or scope_id[0] == "0":
        return None
    value = int(scope_id)
    return value if value <= MAX_ID else None


def is_listed(*, status: str, licence_valid_from: date, licence_valid_to: date, today: date) -> bool:
    """A hospital is on the portal only while approved and inside its licence period (both ends count)."""
    return status == HospitalStatus.approved and licence_valid_from <= today <= licence_valid_to


# ---- the online-consultation rule for doctors -----------------------------------------------------


def full_years_between(start: date, end: date) -> int:
    """Whole years from start to end, counted by anniversaries (29 February counts from 1 March)."""
    if end < start:
        return 0
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


class ConsultBlock(StrEnum):
    not_verified = "not_verified"
    too_few_years = "too_few_years"


def consult_blocks(
    *, real_name_verified: bool, independent_practice_since: date, today: date
) -> list[ConsultBlock]:
    """Why a doctor may not consult online today; an empty list means they may."""
    blocks: list[ConsultBlock] = []
    if not real_name_verified:
        blocks.append(ConsultBlock.not_verified)
    if full_years_between(independent_practice_since, today) < MIN_YEARS_OF_PRACTICE:
        blocks.append(ConsultBlock.too_few_years)
    return blocks


def may_consult_online(*, real_name_verified: bool, independent_practice_since: date, today: date) -> bool:
    """Whether nothing blocks the doctor from consulting online today."""
    return not consult_blocks(
        real_name_verified=real_name_verified,
        independent_practice_since=independent_practice_since,
        today=today,
    )


# ---- access -----------------------------------------------------------------------------------------


class Action(StrEnum):
    read_public = "read_public"  # the portal: listed hospitals, their departments and doctors
    read_unlisted = "read_unlisted"  # a hospital whatever its status or licence period
    create_hospital = "create_hospital"
    update_hospital = "update_hospital"  # approve, suspend, revoke, renew, correct
    manage_departments = "manage_departments"
    manage_staff = "manage_staff"  # doctors, their practice sites, pharmacists
    link_user = "link_user"  # which user account signs in as a doctor or pharmacist
    see_licence_numbers = "see_licence_numbers"  # doctors' and pharmacists' licence numbers in full


@dataclass(frozen=True, slots=True)
class HospitalRef:
    """What access decisions need to know about a hospital (id is None before it exists)."""

    id: int | None
    region_adcode: str


def _holds_region(principal: Principal, region_adcode: str) -> bool:
    return principal.has_role(Role.health_admin, ScopeKind.region, region_adcode)


def _holds_hospital(principal: Principal, hospital_id: int | None) -> bool:
    return hospital_id is not None and principal.has_role(
        Role.hospital_admin, ScopeKind.hospital, str(hospital_id)
    )


def may(principal: Principal, action: Action, hospital: HospitalRef | None = None) -> bool:
    """The registry's one access decision; anything not allowed here is denied.

    platform_admin is the operator who runs the server and the CSV imports; regulator reads
    everything and writes nothing; health_admin acts in its province; hospital_admin in its hospital.
    Linking a user account to a doctor or pharmacist makes that account act with their licence at
    every hospital they serve, so only platform_admin does it.
    """
    if action is Action.read_public:
        return True
    if principal.has_role(Role.platform_admin):
        return True
    if hospital is None or action is Action.link_user:
        return False
    region = _holds_region(principal, hospital.region_adcode)
    own = _holds_hospital(principal, hospital.id)
    regulator = principal.has_role(Role.regulator)
    if action in (Action.read_unlisted, Action.see_licence_numbers):
        return regulator or region or own
    if action in (Action.create_hospital, Action.update_hospital):
        return region
    if action is Action.manage_departments:
        # 诊疗科目 are registered by the health commission and run by the hospital: both may add them.
        return region or own
    if action is Action.manage_staff:
        return own
    return False


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which unlisted hospitals a principal may see, for scoping queries (listed ones are public)."""

    everything: bool = False
    regions: frozenset[str] = dataclasses.field(default_factory=frozenset)
    hospital_ids: frozenset[int] = dataclasses.field(default_factory=frozenset)

    @property
    def anything_unlisted(self) -> bool:
        return self.everything or bool(self.regions) or bool(self.hospital_ids)


def visibility(principal: Principal) -> Visibility:
    """Which unlisted hospitals the principal may see: everything, its regions, or its own hospitals."""
    if principal.has_role(Role.platform_admin) or principal.has_role(Role.regulator):
        return Visibility(everything=True)
    hospital_ids = frozenset(
        hospital_id
        for scope_id in principal.scope_ids(Role.hospital_admin, ScopeKind.hospital)
        if (hospital_id := hospital_id_of_scope(scope_id)) is not None
    )
    return Visibility(
        regions=principal.scope_ids(Role.health_admin, ScopeKind.region),
        hospital_ids=hospital_ids,
    )


def hospital_visible(vis: Visibility, hospital: HospitalRef, *, listed: bool) -> bool:
    """The same rule as the repository's visible_clause, for hospitals already loaded."""
    return (
        listed
        or vis.everything
        or hospital.region_adcode in vis.regions
        or (hospital.id is not None and hospital.id in vis.hospital_ids)
    )


def could_ever(principal: Principal, action: Action) -> bool:
    """Whether any scope the principal holds could allow the action: a quick 403 before reading input."""
    if action is Action.read_public or principal.has_role(Role.platform_admin):
        return True
    roles = principal.roles
    if action in (Action.read_unlisted, Action.see_licence_numbers):
        return bool(roles & {Role.regulator, Role.health_admin, Role.hospital_admin})
    if action in (Action.create_hospital, Action.update_hospital):
        return Role.health_admin in roles
    if action is Action.manage_departments:
        return bool(roles & {Role.health_admin, Role.hospital_admin})
    if action is Action.manage_staff:
        return Role.hospital_admin in roles
    return False  # link_user: platform_admin only, answered above


def may_change_person(principal: Principal, hospitals: list[HospitalRef]) -> bool:
    """A doctor's or pharmacist's shared record changes only with a say over every hospital they serve.

    Someone serving nowhere yet is changed by platform_admin alone.
    """
    if principal.has_role(Role.platform_admin):
        return True
    return bool(hospitals) and all(may(principal, Action.manage_staff, hospital) for hospital in hospitals)


def sees_licence_numbers(principal: Principal, hospitals: list[HospitalRef]) -> bool:
    """Licence numbers of a doctor show in full to an admin of any hospital the doctor works at."""
    return any(may(principal, Action.see_licence_numbers, hospital) for hospital in hospitals)


def mask_licence(licence_no: str) -> str:
    """Keeps enough to tell two numbers apart on screen, never enough to reuse one."""
    if len(licence_no) <= 6:
        return licence_no[:1] + "*" * (len(licence_no) - 1)
    keep = 3 if len(licence_no) >= 10 else 2
    return licence_no[:keep] + "*" * (len(licence_no) - 2 * keep) + licence_no[-keep:]


# ---- status changes ---------------------------------------------------------------------------------

# What a status may be changed from; a revoked licence is final (a new licence is a new hospital).
STATUS_FROM: dict[HospitalStatus, frozenset[HospitalStatus]] = {
    HospitalStatus.approved: frozenset({HospitalStatus.approved, HospitalStatus.suspended}),
    HospitalStatus.suspended: frozenset({HospitalStatus.approved, HospitalStatus.suspended}),
    HospitalStatus.revoked: frozenset(
        {HospitalStatus.approved, HospitalStatus.suspended, HospitalStatus.revoked}
    ),
}


def may_change_status(current: str, requested: HospitalStatus) -> bool:
    """Whether a hospital in status `current` may be moved to `requested` (revoked is final)."""
    return current in STATUS_FROM[requested]


# ---- field rules, shared by the API and the CSV import ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad field: which, and the refusal it earns (its messages come from the error class)."""

    field: str
    error: type[DomainError]
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_error(self) -> DomainError:
        """The refusal this problem earns, with the field and details attached."""
        return self.error(field=self.field, **self.details)

    def reason(self, language: str) -> str:
        """The refusal's sentence in a language."""
        return self.as_error().message(language)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s")
_ADCODE = re.compile(r"^\d{6}$")


def normalize_licence_no(raw: str) -> str:
    """Licence numbers compare case-blind, so re-imports match however the sheet typed them."""
    return raw.strip().upper()


def licence_no_problem(name: str, value: str) -> Problem | None:
    """A licence number: 4 to 64 characters, no spaces or control characters."""
    if not 4 <= len(value) <= 64 or _WHITESPACE.search(value) or _CONTROL.search(value):
        return Problem(name, errors.InvalidLicenceNumber, {"value": value})
    return None


def text_problem(name: str, value: str, *, max_length: int, required: bool = True) -> Problem | None:
    """Free text: present when required, within its length, no control characters."""
    if (required and not value.strip()) or len(value) > max_length or _CONTROL.search(value):
        error = errors.InvalidName if required else errors.InvalidText
        return Problem(name, error, {"max": max_length})
    return None


@dataclass(frozen=True, slots=True)
class Places:
    """What a city code is checked against: province-level codes, and the cities known by name."""

    provinces: frozenset[str]
    cities: frozenset[str]


def province_of(city_adcode: str) -> str:
    """The province-level code a city code lies under (GB/T 2260: its first two digits)."""
    return city_adcode[:2] + "0000"


def adcode_problem(name: str, value: str, places: Places) -> Problem | None:
    """A prefecture-level GB/T 2260 code under a real province; in known provinces, a known city."""
    problem = Problem(name, errors.InvalidAdcode, {"value": value})
    if not _ADCODE.match(value) or value.endswith("0000") or not value.endswith("00"):
        return problem
    province = province_of(value)
    if province not in places.provinces:
        return problem
    if any(province_of(city) == province for city in places.cities) and value not in places.cities:
        return problem
    return None


def level_problem(name: str, value: str) -> Problem | None:
    """A standard hospital level such as 三级甲等."""
    if value not in {level.value for level in HospitalLevel}:
        return Problem(name, errors.InvalidLevel, {"value": value})
    return None


def status_problem(name: str, value: str) -> Problem | None:
    """approved, suspended or revoked."""
    if value not in {status.value for status in HospitalStatus}:
        return Problem(name, errors.InvalidStatus, {"value": value})
    return None


def title_problem(name: str, value: str) -> Problem | None:
    """One of the four physician titles."""
    if value not in {title.value for title in DoctorTitle}:
        return Problem(name, errors.InvalidTitle, {"value": value})
    return None


def period_problem(name: str, valid_from: date, valid_to: date) -> Problem | None:
    """A licence period that does not end before it starts."""
    if valid_to < valid_from:
        return Problem(
            name,
            errors.InvalidLicencePeriod,
            {"valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat()},
        )
    return None


def practice_start_problem(name: str, since: date, today: date) -> Problem | None:
    """A start of independent practice that is real and not in the future."""
    if since > today or since.year < 1940:
        return Problem(name, errors.InvalidPracticeStart, {"value": since.isoformat()})
    return None


def department_codes(
    name: str, values: list[str], lookup: Mapping[str, str]
) -> tuple[list[str], list[Problem]]:
    """Standard codes for department codes or names, in order and without repeats.

    `lookup` maps every lower-cased code, name and alias of the standard list to its code.
    """
    codes: list[str] = []
    problems: list[Problem] = []
    for value in values:
        code = lookup.get(value.strip().lower())
        if code is None:
            problems.append(Problem(name, errors.UnknownDepartment, {"value": value}))
        elif code not in codes:
            codes.append(code)
    return codes, problems
