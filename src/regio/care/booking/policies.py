"""Pure rules of booking: who may do what (default deny), time windows, the no-show ban, coverage gaps.

No I/O: the service reads the facts (the principal's doctor record, a slot's hospital) and asks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from regio.care.booking.enums import Mode
from regio.core.access import Principal, Role, ScopeKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)


class Action(StrEnum):
    read_roster = "read_roster"  # a hospital's templates, shifts and bookings per slot
    manage_roster = "manage_roster"  # templates, shifts, materialising, cancelling shifts
    read_coverage = "read_coverage"
    grant_extra = "grant_extra"  # 加号
    mark_no_show = "mark_no_show"
    record_leave = "record_leave"  # 停诊
    read_schedule = "read_schedule"  # a doctor's own shifts and who booked them


@dataclass(frozen=True, slots=True)
class Target:
    """What a decision needs to know about the thing acted on."""

    hospital_id: int | None = None
    region_adcode: str | None = None  # the hospital's province
    doctor_id: int | None = None  # the doctor whose shift, slot or leave it is


def region_of(city_adcode: str) -> str:
    return city_adcode[:2] + "0000"


def _hospital_admin(principal: Principal, target: Target) -> bool:
    return target.hospital_id is not None and principal.has_role(
        Role.hospital_admin, ScopeKind.hospital, str(target.hospital_id)
    )


def _region_admin(principal: Principal, target: Target) -> bool:
    return target.region_adcode is not None and principal.has_role(
        Role.health_admin, ScopeKind.region, target.region_adcode
    )


def _the_doctor(principal: Principal, own_doctor_id: int | None, target: Target) -> bool:
    return (
        principal.is_person
        and principal.has_role(Role.doctor)
        and own_doctor_id is not None
        and own_doctor_id == target.doctor_id
    )


def may(principal: Principal, action: Action, target: Target, *, own_doctor_id: int | None = None) -> bool:
    """The booking subdomain's one access decision; whatever is not allowed here is denied.

    platform_admin runs the platform; hospital_admin runs its own hospital's rosters; health_admin
    and regulator read rosters and coverage (region / everywhere) and change nothing; a doctor
    grants extra places, marks no-shows, takes leave and reads the schedule for their own slots.
    Patients act through the patients subdomain's bindings, checked by the service.
    """
    if principal.has_role(Role.platform_admin):
        return True  # includes the platform's own jobs, which run as no signed-in person
    if not principal.is_authenticated:
        return False
    admin = _hospital_admin(principal, target)
    doctor = _the_doctor(principal, own_doctor_id, target)
    if action in (Action.read_roster, Action.read_coverage):
        return admin or _region_admin(principal, target) or principal.has_role(Role.regulator)
    if action is Action.manage_roster:
        return admin
    if action in (Action.grant_extra, Action.mark_no_show, Action.record_leave, Action.read_schedule):
        return admin or doctor
    return False


def could_ever(principal: Principal, action: Action) -> bool:
    """Whether any target could be allowed, to refuse early before reading anything."""
    if principal.has_role(Role.platform_admin):
        return True
    staff = principal.has_role(Role.hospital_admin)
    if action in (Action.read_roster, Action.read_coverage):
        return staff or principal.has_role(Role.health_admin) or principal.has_role(Role.regulator)
    if action is Action.manage_roster:
        return staff
    return staff or principal.has_role(Role.doctor)


def acts_as_patient(principal: Principal) -> bool:
    return principal.is_person and principal.has_role(Role.patient)


# ---- modes ------------------------------------------------------------------------------------------


def parse_modes(values: list[str] | str) -> list[Mode] | None:
    """Sorted distinct modes, or None when any is unknown or none is given."""
    items = values.split(",") if isinstance(values, str) else values
    chosen: set[Mode] = set()
    for item in items:
        item = item.strip()
        if item not in Mode.__members__:
            return None
        chosen.add(Mode(item))
    if not chosen:
        return None
    return sorted(chosen, key=list(Mode).index)


def modes_text(modes: list[Mode]) -> str:
    return ",".join(mode.value for mode in modes)


# ---- time ------------------------------------------------------------------------------------------


def local_day(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def local_instant(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def shift_window(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """UTC start and end of a local window; an end at or before the start is on the next day."""
    start_at = local_instant(day, start)
    end_at = local_instant(day + DAY if end <= start else day, end)
    return start_at.astimezone(SHANGHAI), end_at.astimezone(SHANGHAI)


def slot_windows(start_at: datetime, end_at: datetime, minutes: int) -> list[tuple[datetime, datetime]]:
    """Whole slots of `minutes` from the start; a remainder shorter than a slot is not bookable."""
    step = timedelta(minutes=minutes)
    windows = []
    cursor = start_at
    while cursor + step <= end_at:
        windows.append((cursor, cursor + step))
        cursor += step
    return windows


def window_problem(start_at: datetime, end_at: datetime, slot_minutes: int) -> bool:
    """True when the window cannot hold one slot or exceeds 24 hours."""
    length = end_at - start_at
    return length < timedelta(minutes=slot_minutes) or length > DAY


def template_days(
    weekday: int, first: date, last: date, valid_from: date, valid_to: date | None
) -> list[date]:
    """The days from first to last (inclusive) on the template's weekday within its validity."""
    start = max(first, valid_from)
    end = min(last, valid_to) if valid_to else last
    days = []
    cursor = start + timedelta(days=(weekday - start.weekday()) % 7)
    while cursor <= end:
        days.append(cursor)
        cursor += timedelta(days=7)
    return days


# ---- holds, cancellation, no-shows --------------------------------------------------------------------


def may_cancel_at(now: datetime, slot_start: datetime, cutoff_minutes: int) -> bool:
    return now < slot_start - timedelta(minutes=cutoff_minutes)


def ban_until(
    no_shows: list[datetime], *, now: datetime, limit: int, window_days: int, ban_days: int
) -> datetime | None:
    """When booking opens again: `limit` no-shows within `window_days` ban for `ban_days` from the last of them."""
    times = sorted(no_shows)
    window = timedelta(days=window_days)
    until: datetime | None = None
    for index in range(limit - 1, len(times)):
        if times[index] - times[index - limit + 1] <= window:
            candidate = times[index] + timedelta(days=ban_days)
            until = candidate if until is None or candidate > until else until
    return until if until is not None and until > now else None


# ---- coverage --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gap:
    day: date
    start: datetime  # local (Asia/Shanghai)
    end: datetime


def uncovered(day: date, windows: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The parts of a local day that no window covers, in local time."""
    day_start = local_instant(day, time(0))
    day_end = local_instant(day + DAY, time(0))
    clipped = sorted(
        (max(start.astimezone(SHANGHAI), day_start), min(end.astimezone(SHANGHAI), day_end))
        for start, end in windows
        if end > day_start and start < day_end
    )
    gaps = []
    cursor = day_start
    for start, end in clipped:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < day_end:
        gaps.append((cursor, day_end))
    return gaps


def coverage_gaps(
    day: date, windows: list[tuple[datetime, datetime]], *, around_the_clock: bool
) -> list[Gap]:
    """A department needs a doctor online some time each day; a 24-hour one every hour of it."""
    holes = uncovered(day, windows)
    if around_the_clock:
        return [Gap(day, start, end) for start, end in holes]
    day_start = local_instant(day, time(0))
    if holes == [(day_start, local_instant(day + DAY, time(0)))]:
        return [Gap(day, holes[0][0], holes[0][1])]
    return []
