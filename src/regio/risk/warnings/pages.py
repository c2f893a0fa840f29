"""HTML routes of warnings: the officer dashboard and an event's responsibility list and timeline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from regio.core.deps import CurrentPrincipal, RecordId
from regio.core.templating import render
from regio.risk.warnings import policies
from regio.risk.warnings.enums import GRADE_NAMES, LEVEL_COLOURS, ROLE_NAMES

router = APIRouter(tags=["warnings pages"])


def _labels(zh: bool) -> dict[str, object]:
    pick = 0 if zh else 1
    return {
        "levels": {str(k): v[pick] for k, v in LEVEL_COLOURS.items()},
        "grades": {str(k): v[pick] for k, v in GRADE_NAMES.items()},
        "roles": {k.value: v[pick] for k, v in ROLE_NAMES.items()},
    }


@router.get("/risk/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, principal: CurrentPrincipal) -> HTMLResponse:
    """Live warnings for the officer's jurisdictions and bodies, with acknowledge buttons and a map."""
    language = getattr(request.state, "language", "zh-CN")
    return render(
        request,
        "risk/warnings/dashboard.html",
        {
            "audiences": sorted(policies.audiences(principal)),
            "labels": _labels(language.startswith("zh")),
        },
    )


@router.get("/risk/events/{event_id}/responsibility", response_class=HTMLResponse)
async def responsibility(request: Request, event_id: RecordId, principal: CurrentPrincipal) -> HTMLResponse:
    """The responsibility list and timeline of one event (also included in the event page)."""
    language = getattr(request.state, "language", "zh-CN")
    return render(
        request,
        "risk/warnings/responsibility.html",
        {"event_id": event_id, "labels": _labels(language.startswith("zh"))},
    )
