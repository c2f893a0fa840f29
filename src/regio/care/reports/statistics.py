"""Regional statistics of online services: who may read them, the figures, CSV, chart and the service."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.registry import reference
from regio.care.reports import repository
from regio.care.reports.errors import (
    StatisticsDateOutOfRange,
    StatisticsForbidden,
    StatisticsHospitalNotFound,
    StatisticsRangeReversed,
    StatisticsRangeTooLong,
)
from regio.care.reports.repository import Bucket
from regio.care.reports.schemas import DayOut, GroupOut, RowOut, StatisticsOut
from regio.core import audit
from regio.core.access import Principal, Role, ScopeKind
from regio.core.db import transaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 等效医院: one large (三甲) hospital sees about 10,000 outpatients a day; the yardstick.
DAILY_OUTPATIENTS_OF_ONE_LARGE_HOSPITAL = 10_000
MAX_RANGE_DAYS = 92
DEFAULT_RANGE_DAYS = 14
_FOUR_PLACES = Decimal("0.0001")


# ---- who sees what (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reach:
    """The hospitals a reader's statistics may cover: everything, some regions, some hospitals."""

    everything: bool = False
    regions: frozenset[str] = frozenset()
    hospitals: frozenset[int] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.regions or self.hospitals)

    def covers_hospital(self, hospital_id: int, region_adcode: str) -> bool:
        return self.everything or region_adcode in self.regions or hospital_id in self.hospitals


def reach_of(principal: Principal) -> Reach:
    """Platform admins and platform-wide regulators see all; a region's health admin (or regulator)
    that region; a hospital admin their own hospital. Anyone else nothing (default deny)."""
    everything = False
    regions: set[str] = set()
    hospitals: set[int] = set()
    for grant in principal.grants:
        if grant.role in (Role.platform_admin, Role.regulator) and grant.scope_kind is ScopeKind.platform:
            everything = True
        elif grant.role in (Role.health_admin, Role.regulator) and grant.scope_kind is ScopeKind.region:
            regions.add(grant.scope_id)
        elif grant.role is Role.hospital_admin and grant.scope_kind is ScopeKind.hospital:
            if grant.scope_id.isdigit():
                hospitals.add(int(grant.scope_id))
    return Reach(everything=everything, regions=frozenset(regions), hospitals=frozenset(hospitals))


def may_ask_region(reach: Reach, region: str) -> bool:
    """A region outside the reader's own is refused, except to a hospital admin, whose view narrows
    to their own hospitals within it anyway."""
    return reach.everything or region in reach.regions or bool(reach.hospitals)


def check_range(from_date: date, to_date: date) -> None:
    """Both ends count; a long range would scan too much of the table for a dashboard."""
    if not (2000 <= from_date.year <= 2100 and 2000 <= to_date.year <= 2100):
        raise StatisticsDateOutOfRange()
    if to_date < from_date:
        raise StatisticsRangeReversed(**{"from": from_date.isoformat(), "to": to_date.isoformat()})
    if (to_date - from_date).days + 1 > MAX_RANGE_DAYS:
        raise StatisticsRangeTooLong(max_days=MAX_RANGE_DAYS)


def default_range(today: date, days: int = DEFAULT_RANGE_DAYS) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today


def beijing_today() -> date:
    return datetime.now(SHANGHAI).date()


def _bounds(from_date: date, to_date: date) -> tuple[datetime, datetime]:
    start = datetime(from_date.year, from_date.month, from_date.day, tzinfo=SHANGHAI).astimezone(UTC)
    end = datetime(to_date.year, to_date.month, to_date.day, tzinfo=SHANGHAI).astimezone(UTC)
    return start, end + timedelta(days=1)


# ---- figures (pure) ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    services: int = 0
    timed: int = 0
    wait_minutes: float = 0.0
    by_hour: dict[int, int] = field(default_factory=dict)

    def add(self, bucket: Bucket) -> None:
        self.services += bucket.services
        if bucket.hour is not None:
            self.timed += bucket.services
            self.wait_minutes += bucket.wait_minutes
            self.by_hour[bucket.hour] = self.by_hour.get(bucket.hour, 0) + bucket.services

    @property
    def average_wait(self) -> float | None:
        return round(self.wait_minutes / self.timed, 1) if self.timed else None

    @property
    def peak(self) -> int | None:
        return peak_hour(self.by_hour)


def peak_hour(by_hour: dict[int, int]) -> int | None:
    """The hour with most starts; the earliest wins a tie, so the answer is stable."""
    if not by_hour:
        return None
    return min(by_hour, key=lambda hour: (-by_hour[hour], hour))


def equivalent_hospitals(services: int) -> Decimal:
    """Daily online services expressed as large hospitals' daily outpatient loads, to 4 places."""
    return (Decimal(services) / DAILY_OUTPATIENTS_OF_ONE_LARGE_HOSPITAL).quantize(_FOUR_PLACES, ROUND_HALF_UP)


def days_between(from_date: date, to_date: date) -> list[date]:
    return [from_date + timedelta(days=n) for n in range((to_date - from_date).days + 1)]


def department_name(code: str) -> str:
    known = reference.departments_by_code().get(code)
    return known.name_zh if known else code


def summarise(
    buckets: Iterable[Bucket],
    *,
    from_date: date,
    to_date: date,
    hospital_names: dict[int, str],
    prescriptions: dict[date, int] | None = None,
    region: str | None = None,
    hospital_id: int | None = None,
) -> StatisticsOut:
    """Folds the hour buckets into days (every day of the range, empty ones too), day rows and groups."""
    approved = prescriptions or {}
    per_day: dict[date, _Tally] = defaultdict(_Tally)
    per_row: dict[tuple[date, int, str], _Tally] = defaultdict(_Tally)
    per_group: dict[tuple[int, str], _Tally] = defaultdict(_Tally)
    overall = _Tally()
    for bucket in buckets:
        per_day[bucket.day].add(bucket)
        per_row[(bucket.day, bucket.hospital_id, bucket.department_code)].add(bucket)
        per_group[(bucket.hospital_id, bucket.department_code)].add(bucket)
        overall.add(bucket)
    calendar = days_between(from_date, to_date)
    days = [
        DayOut(
            date=day,
            services=per_day[day].services,
            equivalent_hospitals=equivalent_hospitals(per_day[day].services),
            average_wait_minutes=per_day[day].average_wait,
            peak_hour=per_day[day].peak,
            prescriptions_approved=approved.get(day, 0),
        )
        for day in calendar
    ]

    def name(hospital: int) -> str:
        return hospital_names.get(hospital, f"#{hospital}")

    rows = [
        RowOut(
            date=day,
            hospital_id=hospital,
            hospital_name=name(hospital),
            department_code=code,
            department_name=department_name(code),
            services=tally.services,
            average_wait_minutes=tally.average_wait,
            peak_hour=tally.peak,
        )
        for (day, hospital, code), tally in sorted(per_row.items(), key=lambda item: item[0])
    ]
    groups = [
        GroupOut(
            hospital_id=hospital,
            hospital_name=name(hospital),
            department_code=code,
            department_name=department_name(code),
            services=tally.services,
            average_wait_minutes=tally.average_wait,
            peak_hour=tally.peak,
        )
        for (hospital, code), tally in sorted(
            per_group.items(), key=lambda item: (-item[1].services, item[0])
        )
    ]
    average = (Decimal(overall.services) / len(calendar) / DAILY_OUTPATIENTS_OF_ONE_LARGE_HOSPITAL).quantize(
        _FOUR_PLACES, ROUND_HALF_UP
    )
    return StatisticsOut(
        from_date=from_date,
        to_date=to_date,
        region=region,
        hospital_id=hospital_id,
        services=overall.services,
        average_equivalent_hospitals=average,
        peak_equivalent_hospitals=max((day.equivalent_hospitals for day in days), default=Decimal("0.0000")),
        average_wait_minutes=overall.average_wait,
        peak_hour=overall.peak,
        prescriptions_approved=sum(approved.get(day, 0) for day in calendar),
        days=days,
        rows=rows,
        groups=groups,
    )


# ---- CSV (pure) -------------------------------------------------------------------------------------

CSV_HEADER = (
    "日期 date",
    "医院 hospital",
    "科室 department",
    "服务量 services",
    "平均等待分钟 avg_wait_min",
    "高峰时段 peak_hour",
    "当日等效医院 day_equivalent_hospitals",
)


def hour_label(hour: int | None) -> str:
    return f"{hour:02d}:00-{(hour + 1) % 24:02d}:00" if hour is not None else ""


def _cell(text: str) -> str:
    # A name starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(statistics: StatisticsOut) -> str:
    """UTF-8 text with a BOM, so that spreadsheet programs read the Chinese; one line per day row."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    per_day = {day.date: day.equivalent_hospitals for day in statistics.days}
    for row in statistics.rows:
        writer.writerow(
            (
                row.date.isoformat(),
                _cell(row.hospital_name),
                _cell(row.department_name),
                row.services,
                "" if row.average_wait_minutes is None else f"{row.average_wait_minutes:.1f}",
                hour_label(row.peak_hour),
                str(per_day.get(row.date, Decimal("0.0000"))),
            )
        )
    return buffer.getvalue()


def csv_filename(from_date: date, to_date: date) -> str:
    return f"regio-statistics-{from_date:%Y%m%d}-{to_date:%Y%m%d}.csv"


# ---- the chart (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    services: int
    label: str  # the day shown under the bar, or "" where labels would crowd


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    baseline: float
    top: int  # the value the top gridline stands for
    bars: list[Bar]


def bar_chart(days: Sequence[DayOut], *, width: int = 360, height: int = 180) -> Chart:
    """Geometry of the daily-services bar chart, drawn as SVG by the page; no script needed."""
    left, right, top_pad, bottom_pad = 34, 6, 10, 22
    plot_w, plot_h = width - left - right, height - top_pad - bottom_pad
    highest = max((day.services for day in days), default=0)
    top = _nice_ceiling(highest)
    slot = plot_w / max(len(days), 1)
    every = max(1, round(len(days) / 7))  # at most about seven date labels on a phone
    bars = []
    for n, day in enumerate(days):
        # A day with any service keeps a sliver of a bar, so 1 of 50,000 is not drawn as none.
        bar_h = max(plot_h * day.services / top, 0.5) if day.services else 0.0
        bars.append(
            Bar(
                x=round(left + n * slot + slot * 0.15, 2),
                y=round(top_pad + plot_h - bar_h, 2),
                width=round(slot * 0.7, 2),
                height=round(bar_h, 2),
                day=day.date,
                services=day.services,
                label=f"{day.date:%m-%d}" if n % every == 0 else "",
            )
        )
    return Chart(width=width, height=height, baseline=top_pad + plot_h, top=top, bars=bars)


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^n at or above the value, so the axis reads in round numbers."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return max(step * factor, 1)
        step *= 10


# ---- the service ----------------------------------------------------------------------------------


async def service_statistics(
    *,
    session: AsyncSession,
    principal: Principal,
    from_date: date,
    to_date: date,
    region: str | None = None,
    hospital_id: int | None = None,
    export: str = "json",
) -> StatisticsOut:
    """Daily services, waits and peak hours of the hospitals the reader may oversee; each read audited."""
    check_range(from_date, to_date)
    reach = reach_of(principal)
    if reach.is_empty:
        raise StatisticsForbidden()
    if region is not None and not may_ask_region(reach, region):
        raise StatisticsForbidden(region=region)
    async with transaction(session):
        if hospital_id is not None:
            hospital_region = await repository.hospital_region(session, hospital_id)
            if hospital_region is None:
                raise StatisticsHospitalNotFound(hospital_id=hospital_id)
            if not reach.covers_hospital(hospital_id, hospital_region):
                raise StatisticsForbidden(hospital_id=hospital_id)
        start, end = _bounds(from_date, to_date)
        buckets = await repository.service_buckets(
            session, start=start, end=end, reach=reach, region=region, hospital_id=hospital_id
        )
        approved = await repository.approved_prescriptions(
            session, start=start, end=end, reach=reach, region=region, hospital_id=hospital_id
        )
        names = await repository.hospital_names(session, {bucket.hospital_id for bucket in buckets})
        await audit.record(
            session,
            principal,
            "statistics.read",
            object_type="statistics",
            object_id=_object_id(region, hospital_id),
            details={
                "from": from_date.isoformat(),
                "to": to_date.isoformat(),
                "region": region,
                "hospital_id": hospital_id,
                "export": export,
            },
        )
    return summarise(
        buckets,
        from_date=from_date,
        to_date=to_date,
        hospital_names=names,
        prescriptions=approved,
        region=region,
        hospital_id=hospital_id,
    )


def _object_id(region: str | None, hospital_id: int | None) -> str:
    if hospital_id is not None:
        return f"hospital:{hospital_id}"
    return f"region:{region}" if region is not None else "all"


__all__ = [
    "Bucket",
    "StatisticsOut",
    "bar_chart",
    "check_range",
    "reach_of",
    "service_statistics",
    "summarise",
    "to_csv",
]
