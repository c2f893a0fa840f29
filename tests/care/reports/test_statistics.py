"""Regional service statistics: what counts as a service and on which Beijing day, waits, peak hours,
equivalent hospitals, who may read them, the CSV and the dashboard page."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from regio.care.consultation.models import Consultation
from regio.care.reports import statistics
from regio.care.reports.statistics import (
    Bucket,
    DayOut,
    StatisticsRangeReversed,
    StatisticsRangeTooLong,
    bar_chart,
    check_range,
    equivalent_hospitals,
    peak_hour,
    reach_of,
    summarise,
    to_csv,
)
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.booking.conftest import World, build_world
from tests.care.records.conftest import PatientUser, patient_for
from tests.care.registry.helpers import make_hospital
from tests.factories import make_user, token_headers

ZJ, JS = "330000", "320000"
DAY = date(2026, 3, 10)  # "D" of the rule: a Beijing calendar day
NEXT = DAY + timedelta(days=1)
URL = "/api/care/statistics"


def beijing(day: date, hour: int, minute: int = 0) -> datetime:
    """A Beijing wall-clock time as the UTC instant the database stores (Beijing is UTC+8)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


# ---- pure rules ---------------------------------------------------------------------------------------


def test_equivalent_hospitals_is_services_over_ten_thousand_to_four_places() -> None:
    assert equivalent_hospitals(0) == Decimal("0.0000")
    assert equivalent_hospitals(4) == Decimal("0.0004")
    assert equivalent_hospitals(12_345) == Decimal("1.2345")
    assert str(equivalent_hospitals(10_000)) == "1.0000"


@given(st.integers(min_value=0, max_value=10**9))
def test_equivalent_hospitals_is_exact_for_any_count(services: int) -> None:
    figure = equivalent_hospitals(services)
    assert figure * 10_000 == services
    assert figure.as_tuple().exponent == -4


def test_the_peak_hour_is_the_busiest_and_the_earliest_of_a_tie() -> None:
    assert peak_hour({}) is None
    assert peak_hour({9: 2, 14: 1}) == 9
    assert peak_hour({20: 3, 8: 3, 9: 1}) == 8


def test_a_range_ends_included_runs_forward_and_spans_at_most_92_days() -> None:
    check_range(DAY, DAY)
    check_range(DAY, DAY + timedelta(days=91))
    with pytest.raises(StatisticsRangeTooLong):
        check_range(DAY, DAY + timedelta(days=92))
    with pytest.raises(StatisticsRangeReversed):
        check_range(NEXT, DAY)


def _person(*grants: RoleGrant) -> Principal:
    return Principal(user_id=5, username="someone", grants=frozenset(grants))


def test_reach_is_default_deny_and_follows_each_grants_scope() -> None:
    assert reach_of(_person(RoleGrant(Role.patient))).is_empty
    assert reach_of(_person(RoleGrant(Role.doctor, ScopeKind.hospital, "1"))).is_empty
    assert reach_of(_person(RoleGrant(Role.health_admin, ScopeKind.jurisdiction, "330100"))).is_empty
    assert reach_of(_person(RoleGrant(Role.platform_admin))).everything
    assert reach_of(_person(RoleGrant(Role.regulator))).everything
    regional = reach_of(_person(RoleGrant(Role.health_admin, ScopeKind.region, ZJ)))
    assert regional.regions == {ZJ} and not regional.everything
    assert regional.covers_hospital(7, ZJ) and not regional.covers_hospital(7, JS)
    own = reach_of(_person(RoleGrant(Role.hospital_admin, ScopeKind.hospital, "7")))
    assert own.hospitals == {7} and own.covers_hospital(7, JS) and not own.covers_hospital(8, JS)


def _bucket(day: date, hour: int | None, services: int, wait: float, code: str = "respiratory") -> Bucket:
    return Bucket(
        day=day, hospital_id=1, department_code=code, hour=hour, services=services, wait_minutes=wait
    )


def test_summary_lists_every_day_of_the_range_and_averages_waits_over_timed_services() -> None:
    figures = summarise(
        [_bucket(DAY, 9, 2, 42.0), _bucket(DAY, 14, 1, 0.0), _bucket(DAY, None, 1, 0.0)],
        from_date=DAY - timedelta(days=1),
        to_date=NEXT,
        hospital_names={1: "甲医院"},
    )
    assert [day.services for day in figures.days] == [0, 4, 0]
    [row] = figures.rows
    assert row.services == 4 and row.average_wait_minutes == 14.0 and row.peak_hour == 9
    assert row.hospital_name == "甲医院" and row.department_name == "呼吸内科"
    assert figures.days[0].average_wait_minutes is None and figures.days[0].peak_hour is None
    assert figures.average_equivalent_hospitals == Decimal("0.0001")  # 4 services over 3 days, rounded


@given(st.lists(st.integers(min_value=0, max_value=50_000), min_size=1, max_size=92))
def test_bar_heights_are_proportional_and_no_bar_leaves_the_chart(counts: list[int]) -> None:
    days = [
        DayOut(
            date=DAY + timedelta(days=n),
            services=count,
            equivalent_hospitals=equivalent_hospitals(count),
            average_wait_minutes=None,
            peak_hour=None,
            prescriptions_approved=0,
        )
        for n, count in enumerate(counts)
    ]
    chart = bar_chart(days)
    assert chart.top >= max(counts)
    for bar, count in zip(chart.bars, counts, strict=True):
        assert 0 <= bar.y <= chart.baseline
        assert abs(bar.y + bar.height - chart.baseline) < 0.02
        assert 0 <= bar.x and bar.x + bar.width <= chart.width
        assert (bar.height == 0) == (count == 0)


def test_csv_quotes_formula_looking_names_so_a_spreadsheet_does_not_run_them() -> None:
    figures = summarise(
        [_bucket(DAY, 9, 1, 5.0)], from_date=DAY, to_date=DAY, hospital_names={1: "=HYPERLINK()"}
    )
    rows = list(csv.reader(io.StringIO(to_csv(figures).lstrip("\ufeff"))))
    assert rows[1][1] == "'=HYPERLINK()"


# ---- with a database ----------------------------------------------------------------------------------


@dataclass
class Region:
    world: World
    patient: PatientUser
    zj_hospital: int
    js_hospital: int


async def _consultation(
    db: Database,
    region: Region,
    *,
    hospital_id: int,
    department: str = "respiratory",
    status: str = "completed",
    created: datetime,
    scheduled: datetime,
    started: datetime | None,
    completed: datetime | None,
    source: str = "appointment",
) -> None:
    async with db.session() as session, session.begin():
        session.add(
            Consultation(
                patient_id=region.patient.patient_id,
                requester_user_id=region.patient.user.id,
                doctor_id=region.world.doctor_id,
                hospital_id=hospital_id,
                department_code=department,
                mode="text",
                source=source,
                status=status,
                created_at=created,
                scheduled_at=scheduled,
                started_at=started,
                completed_at=completed,
            )
        )


@pytest.fixture
async def region(db: Database, settings: Settings) -> Region:
    """Consultations at known Beijing times in a Zhejiang hospital, and one in a Jiangsu hospital."""
    world = await build_world(db)
    js = await make_hospital(db, city_adcode="320100", address="南京市")
    patient = await patient_for(db, settings)
    made = Region(world=world, patient=patient, zj_hospital=world.hospital_id, js_hospital=js)
    zj = world.hospital_id
    early = beijing(DAY, 7)
    # Three respiratory services on D: waits 12, 30 and 0 (started before its slot), two in the 9 o'clock hour.
    await _consultation(
        db, made, hospital_id=zj, created=early, scheduled=beijing(DAY, 9),
        started=beijing(DAY, 9, 12), completed=beijing(DAY, 9, 30),
    )  # fmt: skip
    await _consultation(
        db, made, hospital_id=zj, created=early, scheduled=beijing(DAY, 9),
        started=beijing(DAY, 9, 30), completed=beijing(DAY, 9, 50),
    )  # fmt: skip
    await _consultation(
        db, made, hospital_id=zj, created=early, scheduled=beijing(DAY, 14),
        started=beijing(DAY, 13, 50), completed=beijing(DAY, 14, 10),
    )  # fmt: skip
    # A quick question accepted 20:05 but asked 20:00: the wait runs from the later, completed 23:30 = D 15:30 UTC.
    await _consultation(
        db, made, hospital_id=zj, department="pediatrics", source="quick_question",
        created=beijing(DAY, 20), scheduled=beijing(DAY, 20, 5),
        started=beijing(DAY, 20, 20), completed=beijing(DAY, 23, 30),
    )  # fmt: skip
    # Completed 00:30 Beijing on D+1 = D 16:30 UTC: counts on D+1.
    await _consultation(
        db, made, hospital_id=zj, created=beijing(NEXT, 0), scheduled=beijing(NEXT, 0),
        started=beijing(NEXT, 0, 10), completed=beijing(NEXT, 0, 30),
    )  # fmt: skip
    # Not services: cancelled, still in progress, waiting.
    await _consultation(
        db, made, hospital_id=zj, status="cancelled", created=early, scheduled=beijing(DAY, 10),
        started=None, completed=None,
    )  # fmt: skip
    await _consultation(
        db, made, hospital_id=zj, status="in_progress", created=early, scheduled=beijing(DAY, 10),
        started=beijing(DAY, 10, 5), completed=None,
    )  # fmt: skip
    # Another province's hospital.
    await _consultation(
        db, made, hospital_id=js, created=early, scheduled=beijing(DAY, 11),
        started=beijing(DAY, 11, 6), completed=beijing(DAY, 11, 30),
    )  # fmt: skip
    assert beijing(DAY, 23, 30) == datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    assert beijing(NEXT, 0, 30) == datetime(2026, 3, 10, 16, 30, tzinfo=UTC)
    return made


async def _headers(db: Database, settings: Settings, *grants: RoleGrant) -> dict[str, str]:
    return token_headers(settings, await make_user(db, roles=list(grants)))


def _query(first: date = DAY, last: date = NEXT, **extra: object) -> dict[str, str]:
    return {"from": first.isoformat(), "to": last.isoformat(), **{k: str(v) for k, v in extra.items()}}


async def test_counts_waits_and_peak_hours_per_day_hospital_and_department(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.health_admin, ScopeKind.region, ZJ))
    answer = await client.get(URL, params=_query(region=ZJ), headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    days = {day["date"]: day for day in body["days"]}
    assert days[DAY.isoformat()]["services"] == 4
    assert days[DAY.isoformat()]["equivalent_hospitals"] == "0.0004"
    assert days[NEXT.isoformat()]["services"] == 1
    assert days[NEXT.isoformat()]["equivalent_hospitals"] == "0.0001"
    assert days[DAY.isoformat()]["peak_hour"] == 9
    rows = {(row["date"], row["department_code"]): row for row in body["rows"]}
    assert set(rows) == {
        (DAY.isoformat(), "respiratory"),
        (DAY.isoformat(), "pediatrics"),
        (NEXT.isoformat(), "respiratory"),
    }
    respiratory = rows[(DAY.isoformat(), "respiratory")]
    assert respiratory["services"] == 3
    assert respiratory["average_wait_minutes"] == pytest.approx(14.0)  # (12 + 30 + 0) / 3
    assert respiratory["peak_hour"] == 9
    assert respiratory["hospital_id"] == region.zj_hospital
    pediatrics = rows[(DAY.isoformat(), "pediatrics")]
    assert pediatrics["average_wait_minutes"] == pytest.approx(15.0) and pediatrics["peak_hour"] == 20
    late = rows[(NEXT.isoformat(), "respiratory")]
    assert late["average_wait_minutes"] == pytest.approx(10.0) and late["peak_hour"] == 0
    assert body["services"] == 5
    groups = {group["department_code"]: group for group in body["groups"]}
    assert groups["respiratory"]["services"] == 4 and groups["respiratory"]["peak_hour"] == 9


async def test_the_beijing_day_decides_not_the_utc_day(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.health_admin, ScopeKind.region, ZJ))
    on_day = (await client.get(URL, params=_query(DAY, DAY), headers=headers)).json()
    assert [day["services"] for day in on_day["days"]] == [4]  # 23:30 in, 00:30 next day out
    on_next = (await client.get(URL, params=_query(NEXT, NEXT), headers=headers)).json()
    assert [day["services"] for day in on_next["days"]] == [1]
    before = (
        await client.get(
            URL, params=_query(DAY - timedelta(days=1), DAY - timedelta(days=1)), headers=headers
        )
    ).json()
    assert before["services"] == 0 and before["days"][0]["equivalent_hospitals"] == "0.0000"


async def test_each_read_is_on_the_audit_trail(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.health_admin, ScopeKind.region, ZJ))
    assert (await client.get(URL, params=_query(region=ZJ), headers=headers)).status_code == 200
    assert (await client.get(URL + ".csv", params=_query(), headers=headers)).status_code == 200
    async with db.session() as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.object_type == "statistics").order_by(AuditEntry.id)
            )
        ).all()
    assert [entry.action for entry in entries] == ["statistics.read", "statistics.read"]
    assert entries[0].object_id == f"region:{ZJ}" and entries[0].details["from"] == DAY.isoformat()
    assert entries[1].details["export"] == "csv"


async def test_csv_has_a_bom_a_bilingual_header_and_parses(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.health_admin, ScopeKind.region, ZJ))
    answer = await client.get(URL + ".csv", params=_query(), headers=headers)
    assert answer.status_code == 200
    assert answer.content.startswith("\ufeff".encode())
    assert answer.headers["content-type"].startswith("text/csv")
    assert (
        answer.headers["content-disposition"]
        == 'attachment; filename="regio-statistics-20260310-20260311.csv"'
    )
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:6] == [
        "日期 date",
        "医院 hospital",
        "科室 department",
        "服务量 services",
        "平均等待分钟 avg_wait_min",
        "高峰时段 peak_hour",
    ]
    body = rows[1:]
    assert len(body) == 3
    respiratory = next(row for row in body if row[0] == DAY.isoformat() and row[2] == "呼吸内科")
    assert respiratory[3:] == ["3", "14.0", "09:00-10:00", "0.0004"]
    assert sum(int(row[3]) for row in body) == 5


async def test_a_health_admin_of_another_region_is_refused_and_sees_only_their_own(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.health_admin, ScopeKind.region, JS))
    for params in (_query(region=ZJ), _query(hospital_id=region.zj_hospital)):
        refused = await client.get(URL, params=params, headers=headers)
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "statistics_forbidden" and error["message_zh"] and error["message_en"]
    own = (await client.get(URL, params=_query(), headers=headers)).json()
    assert own["services"] == 1 and {row["hospital_id"] for row in own["rows"]} == {region.js_hospital}


async def test_a_hospital_admin_sees_their_own_hospital_only(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    headers = await _headers(
        db, settings, RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(region.js_hospital))
    )
    own = await client.get(URL, params=_query(), headers=headers)
    assert own.status_code == 200
    assert own.json()["services"] == 1
    refused = await client.get(URL, params=_query(hospital_id=region.zj_hospital), headers=headers)
    assert refused.status_code == 403
    # Naming the other province narrows to their own hospitals there: none.
    narrowed = await client.get(URL, params=_query(region=ZJ), headers=headers)
    assert narrowed.status_code == 200 and narrowed.json()["services"] == 0


@pytest.mark.parametrize(
    "grant",
    [
        RoleGrant(Role.patient),
        RoleGrant(Role.doctor, ScopeKind.hospital, "1"),
        RoleGrant(Role.pharmacist, ScopeKind.hospital, "1"),
    ],
    ids=["patient", "doctor", "pharmacist"],
)
async def test_people_without_an_oversight_role_are_refused(
    db: Database, settings: Settings, client: httpx.AsyncClient, grant: RoleGrant
) -> None:
    headers = await _headers(db, settings, grant)
    for path in (URL, URL + ".csv"):
        answer = await client.get(path, params=_query(), headers=headers)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "statistics_forbidden"
    assert (await client.get(URL, params=_query())).status_code == 401


async def test_regulators_and_platform_admins_see_every_region(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    for role in (Role.regulator, Role.platform_admin):
        headers = await _headers(db, settings, RoleGrant(role))
        body = (await client.get(URL, params=_query(), headers=headers)).json()
        assert body["services"] == 6
        assert body["days"][0]["equivalent_hospitals"] == "0.0005"
        only = (await client.get(URL, params=_query(hospital_id=region.js_hospital), headers=headers)).json()
        assert only["services"] == 1


async def test_ranges_are_validated_with_stable_codes(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.regulator))
    reversed_ = await client.get(URL, params=_query(NEXT, DAY), headers=headers)
    assert reversed_.status_code == 422 and reversed_.json()["error"]["code"] == "statistics_range_reversed"
    too_long = await client.get(URL, params=_query(DAY, DAY + timedelta(days=92)), headers=headers)
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "statistics_range_too_long"
    longest = await client.get(URL, params=_query(DAY, DAY + timedelta(days=91)), headers=headers)
    assert longest.status_code == 200 and len(longest.json()["days"]) == 92
    garbled = await client.get(URL, params={"from": "2026-13-01", "to": "2026-03-01"}, headers=headers)
    assert garbled.status_code == 422 and garbled.json()["error"]["code"] == "validation_error"
    bad_region = await client.get(URL, params=_query(region="33"), headers=headers)
    assert bad_region.status_code == 422
    missing = await client.get(URL, params=_query(hospital_id=999_999), headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "statistics_hospital_not_found"


async def test_without_dates_the_last_fourteen_beijing_days_are_shown(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.regulator))
    body = (await client.get(URL, headers=headers)).json()
    assert len(body["days"]) == 14
    assert body["to_date"] == statistics.beijing_today().isoformat()


async def test_the_dashboard_draws_the_chart_as_svg_with_the_table_and_the_csv_link(
    db: Database, settings: Settings, client: httpx.AsyncClient, region: Region
) -> None:
    headers = await _headers(db, settings, RoleGrant(Role.health_admin, ScopeKind.region, ZJ))
    page = await client.get("/care/statistics", params=_query(), headers=headers)
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and html.count('class="bar"') == 2
    assert f'data-day="{DAY.isoformat()}" data-services="4"' in html
    assert "下载 CSV" in html and 'href="/api/care/statistics.csv?from=2026-03-10&amp;to=2026-03-11"' in html
    assert "呼吸内科" in html and "09:00-10:00" in html
    assert 'id="equivalent-hospitals">0.0003<' in html  # 5 services over 2 days ÷ 10,000, rounded
    assert "<script" not in html.split('id="statistics"', 1)[1]


async def test_the_dashboard_explains_a_bad_range_and_refuses_a_patient(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    admin = await _headers(db, settings, RoleGrant(Role.health_admin, ScopeKind.region, ZJ))
    page = await client.get("/care/statistics", params=_query(NEXT, DAY), headers=admin)
    assert page.status_code == 422 and "结束日期早于开始日期" in page.text and "<svg" not in page.text
    default = await client.get("/care/statistics", headers=admin)
    assert default.status_code == 200 and default.text.count('class="bar"') == 14
    patient = await _headers(db, settings, RoleGrant(Role.patient))
    refused = await client.get("/care/statistics", headers={**patient, "Accept": "text/html"})
    assert refused.status_code == 403
