"""HTML pages of reports: my and my family's reports, newest first, and one report with its values,
flags (high / low in colour and with an arrow) and reference ranges. Phone-sized, bilingual."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from regio.care.reports import service
from regio.care.reports.enums import FLAG_LABELS, KIND_LABELS, STATUS_LABELS
from regio.care.reports.fhir import SHANGHAI
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep
from regio.core.templating import render

router = APIRouter(tags=["reports pages"], include_in_schema=False)


def _local(instant: datetime | None) -> str:
    """An instant as Beijing time, as every page shows times."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if instant else ""


def _labels() -> dict[str, object]:
    return {
        "kind_labels": {k.value: v for k, v in KIND_LABELS.items()},
        "status_labels": {k.value: v for k, v in STATUS_LABELS.items()},
        "flag_labels": {k.value: v for k, v in FLAG_LABELS.items()},
        "local": _local,
    }


@router.get("/care/reports")
async def my_reports(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    items = await service.my_reports(session=session, principal=principal)
    return render(request, "reports/list.html", {"items": items, **_labels()})


@router.get("/care/reports/{report_id:int}")
async def report_page(
    request: Request, report_id: RecordId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    report = await service.get_report(session=session, principal=principal, report_id=report_id)
    return render(request, "reports/report.html", {"report": report, **_labels()})
