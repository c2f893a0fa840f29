"""Pure booking rules: local windows, slots, the no-show ban, coverage gaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from regio.care.booking import policies

DAY = date(2026, 12, 1)  # a Tuesday


def utc(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def test_a_morning_shift_in_beijing_is_stored_eight_hours_earlier_in_utc() -> None:
    start, end = policies.shift_window(DAY, time(8), time(12))
    assert start.astimezone(UTC) == utc(0) and end.astimezone(UTC) == utc(4)


def test_a_window_ending_at_or_before_its_start_runs_into_the_next_day() -> None:
    start, end = policies.shift_window(DAY, time(20), time(8))
    assert end - start == timedelta(hours=12)
    start, end = policies.shift_window(DAY, time(0), time(0))
    assert end - start == timedelta(hours=24)


def test_slots_are_whole_and_a_short_remainder_is_not_bookable() -> None:
    windows = policies.slot_windows(utc(0), utc(1, 10), 30)
    assert [(s.minute, e.minute) for s, e in windows] == [(0, 30), (30, 0)]


def test_template_days_fall_on_the_weekday_within_validity() -> None:
    days = policies.template_days(1, DAY, DAY + timedelta(days=20), DAY + timedelta(days=1), None)
    assert days == [DAY + timedelta(days=7), DAY + timedelta(days=14)]


def test_three_no_shows_within_ninety_days_ban_for_thirty_days_from_the_third() -> None:
    times = [utc(9, day=DAY - timedelta(days=d)) for d in (80, 40, 1)]
    until = policies.ban_until(times, now=utc(10), limit=3, window_days=90, ban_days=30)
    assert until == times[-1] + timedelta(days=30)
    assert (
        policies.ban_until(times, now=until + timedelta(seconds=1), limit=3, window_days=90, ban_days=30)
        is None
    )


def test_no_shows_spread_wider_than_the_window_do_not_ban() -> None:
    times = [utc(9, day=DAY - timedelta(days=d)) for d in (120, 40, 1)]
    assert policies.ban_until(times, now=utc(10), limit=3, window_days=90, ban_days=30) is None


def test_a_department_without_any_shift_that_day_has_a_whole_day_gap() -> None:
    gaps = policies.coverage_gaps(DAY, [], around_the_clock=False)
    assert len(gaps) == 1 and gaps[0].end - gaps[0].start == timedelta(hours=24)


def test_an_ordinary_department_is_covered_by_one_shift_that_day() -> None:
    window = policies.shift_window(DAY, time(8), time(12))
    assert policies.coverage_gaps(DAY, [window], around_the_clock=False) == []


def test_a_24_hour_department_shows_every_uncovered_stretch_in_local_time() -> None:
    windows = [policies.shift_window(DAY, time(0), time(8)), policies.shift_window(DAY, time(12), time(0))]
    gaps = policies.coverage_gaps(DAY, windows, around_the_clock=True)
    assert [(g.start.hour, g.end.hour) for g in gaps] == [(8, 12)]


def test_a_night_shift_from_the_evening_before_covers_the_early_hours() -> None:
    windows = [
        policies.shift_window(DAY - timedelta(days=1), time(20), time(8)),
        policies.shift_window(DAY, time(8), time(20)),
    ]
    assert policies.coverage_gaps(DAY, windows, around_the_clock=True) == [
        policies.Gap(DAY, *policies.uncovered(DAY, windows)[0])
    ]
    assert [
        (g.start.hour, g.end.hour) for g in policies.coverage_gaps(DAY, windows, around_the_clock=True)
    ] == [(20, 0)]


def test_modes_are_checked_and_ordered() -> None:
    assert policies.modes_text(policies.parse_modes(["video", "text"]) or []) == "text,video"
    assert policies.parse_modes(["fax"]) is None and policies.parse_modes([]) is None
