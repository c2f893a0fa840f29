"""Routes of the regional service statistics: JSON, CSV download and the dashboard page. Thin."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from regio.care.reports import statistics
from regio.care.reports.statistics import StatisticsOut
from regio.core.deps import MAX_ID, CurrentPrincipal, SessionDep
from regio.core.errors import InvalidInput
from regio.core.templating import render

router = APIRouter(tags=["statistics"])

FromDate = Annotated[date | None, Query(alias="from", description="First Beijing day, YYYY-MM-DD")]
ToDate = Annotated[date | None, Query(alias="to", description="Last Beijing day, YYYY-MM-DD (included)")]
Region = Annotated[str | None, Query(pattern=r"^\d{6}$", description="Province adcode, e.g. 330000")]
HospitalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _range(from_date: date | None, to_date: date | None) -> tuple[date, date]:
    default_from, default_to = statistics.default_range(statistics.beijing_today())
    return from_date or default_from, to_date or default_to


@router.get("/api/care/statistics", response_model=StatisticsOut)
async def read_statistics(
    session: SessionDep,
    principal: CurrentPrincipal,
    from_date: FromDate = None,
    to_date: ToDate = None,
    region: Region = None,
    hospital_id: HospitalId = None,
) -> StatisticsOut:
    first, last = _range(from_date, to_date)
    return await statistics.service_statistics(
        session=session,
        principal=principal,
        from_date=first,
        to_date=last,
        region=region,
        hospital_id=hospital_id,
    )


@router.get("/api/care/statistics.csv", response_class=Response)
async def download_statistics(
    session: SessionDep,
    principal: CurrentPrincipal,
    from_date: FromDate = None,
    to_date: ToDate = None,
    region: Region = None,
    hospital_id: HospitalId = None,
) -> Response:
    first, last = _range(from_date, to_date)
    figures = await statistics.service_statistics(
        session=session,
        principal=principal,
        from_date=first,
        to_date=last,
        region=region,
        hospital_id=hospital_id,
        export="csv",
    )
    return Response(
        statistics.to_csv(figures).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{statistics.csv_filename(first, last)}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/care/statistics", include_in_schema=False)
async def dashboard(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    from_date: FromDate = None,
    to_date: ToDate = None,
    region: Region = None,
    hospital_id: HospitalId = None,
) -> Response:
    """The regional admin's dashboard; a bad range is shown beside the form, not as an error page."""
    first, last = _range(from_date, to_date)
    query = {"from": first.isoformat(), "to": last.isoformat()}
    if region:
        query["region"] = region
    if hospital_id:
        query["hospital_id"] = str(hospital_id)
    figures: StatisticsOut | None = None
    problem: InvalidInput | None = None
    try:
        figures = await statistics.service_statistics(
            session=session,
            principal=principal,
            from_date=first,
            to_date=last,
            region=region,
            hospital_id=hospital_id,
        )
    except (statistics.StatisticsRangeReversed, statistics.StatisticsRangeTooLong) as exc:
        problem = exc
    return render(
        request,
        "reports/dashboard.html",
        {
            "figures": figures,
            "problem": problem,
            "chart": statistics.bar_chart(figures.days) if figures else None,
            "hour_label": statistics.hour_label,
            "from_date": first,
            "to_date": last,
            "region": region or "",
            "hospital_id": hospital_id or "",
            "csv_href": "/api/care/statistics.csv?" + urlencode(query),
            "max_days": statistics.MAX_RANGE_DAYS,
        },
        status_code=problem.status if problem else 200,
    )
