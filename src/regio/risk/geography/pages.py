"""HTML routes of geography: the hazard map."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from regio.core.deps import CurrentPrincipal
from regio.core.templating import render
from regio.risk.geography.enums import Level

router = APIRouter(tags=["geography pages"])


@router.get("/risk/map", response_class=HTMLResponse)
async def risk_map(request: Request, principal: CurrentPrincipal) -> HTMLResponse:
    return render(request, "risk/map.html", {"levels": list(Level)})
