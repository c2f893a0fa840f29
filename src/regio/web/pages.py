"""The home page: the front door to both applications."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from regio.core.deps import OptionalPrincipal, Public, SettingsDep
from regio.core.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse, dependencies=[Public])
async def home(request: Request, principal: OptionalPrincipal, settings: SettingsDep) -> HTMLResponse:
    return render(request, "home.html", {"region_name": settings.region_name})
