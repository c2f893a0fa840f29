"""HTML routes of spillover: try a model and see who else is affected, and when."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from regio.core.deps import CurrentPrincipal, SessionDep
from regio.core.errors import DomainError
from regio.core.templating import render
from regio.risk.geography.api import Holder
from regio.risk.geography.enums import Level
from regio.risk.spillover import service
from regio.risk.spillover.enums import Model, Stability
from regio.risk.spillover.schemas import SpilloverIn, SpilloverOut

router = APIRouter(tags=["spillover pages"])

# the form's numeric fields, per model, in the order shown
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    Model.overlap.value: [("buffer_km", "缓冲距离（公里）", "Buffer (km)")],
    Model.river.value: [("max_hours", "跟踪时长（小时）", "Follow for (hours)")],
    Model.plume.value: [
        ("wind_speed_ms", "风速（米/秒）", "Wind speed (m/s)"),
        ("wind_from_deg", "风向（来向，度，北=0）", "Wind from (degrees, north = 0)"),
        ("source_g_s", "源强（克/秒）", "Source strength (g/s)"),
        ("threshold_mg_m3", "阈值浓度（毫克/立方米）", "Threshold (mg/m³)"),
        ("release_height_m", "释放高度（米）", "Release height (m)"),
    ],
    Model.epidemic.value: [
        ("initial_cases", "发生地初始感染人数", "Infected at the origin"),
        ("days", "预测天数", "Days to project"),
        ("r0", "基本再生数 R0", "Basic reproduction number R0"),
    ],
}
MODEL_NAMES = {
    Model.overlap.value: ("范围与缓冲区", "Overlap and buffer"),
    Model.river.value: ("河流下游", "River downstream"),
    Model.plume.value: ("大气扩散（高斯烟羽）", "Wind plume (Gaussian)"),
    Model.epidemic.value: ("疫情传播（引力模型 + SEIR）", "Epidemic (gravity + SEIR)"),
}


def _number(text: str) -> float | str:
    try:
        value = float(text)
    except ValueError:
        return text  # the model's own check names it
    return value if math.isfinite(value) else text


@router.get("/risk/spillover", response_class=HTMLResponse)
async def spillover_page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    holder: Holder,
    model: Annotated[str, Query(max_length=20)] = "",
    origin: Annotated[str, Query(max_length=6)] = "",
    lon: Annotated[str, Query(max_length=30)] = "",
    lat: Annotated[str, Query(max_length=30)] = "",
    level: Annotated[str, Query(max_length=20)] = Level.prefecture.value,
    stability: Annotated[str, Query(max_length=2)] = "",
) -> HTMLResponse:
    form = {key: value for key, value in request.query_params.items() if len(value) <= 40}
    result: SpilloverOut | None = None
    error: tuple[str, str] | None = None
    status = 200
    if model:
        body: dict[str, Any] = {"model": model, "level": level}
        if origin:
            body["origin"] = origin
        if lon or lat:
            body["geometry"] = {"type": "Point", "coordinates": [_number(lon), _number(lat)]}
        if stability and model == Model.plume.value:
            body["stability"] = stability
        for name, _, _ in FIELDS.get(model, []):
            if form.get(name, "").strip():
                body[name] = _number(form[name].strip())
        try:
            request_body = SpilloverIn.model_validate(body)
            result = await service.run_model(
                session=session, principal=principal, holder=holder, request=request_body
            )
        except ValidationError:
            error, status = (
                (
                    "请检查模型、发生地代码（六位数字）和层级。",
                    "Check the model, the origin (six digits) and the level.",
                ),
                422,
            )
        except DomainError as refusal:
            error, status = (refusal.message("zh"), refusal.message("en")), refusal.status
    return render(
        request,
        "risk/spillover/index.html",
        {
            "models": MODEL_NAMES,
            "fields": FIELDS,
            "stabilities": [s.value for s in Stability],
            "levels": list(Level),
            "form": form,
            "result": result,
            "error": error,
        },
        status_code=status,
    )
