"""HTML pages of risk reports: the list, the report form, and a report's page with its version chain and map.

Thin: every POST is a CSRF-checked form that calls the service; a refusal re-renders the form
with the message in the reader's language and what they typed.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from shapely.geometry import shape
from starlette.responses import Response

from regio.core.access import Principal
from regio.core.deps import MAX_ID, CurrentPrincipal, EventsDep, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError, Forbidden, ValidationFailed
from regio.core.identity.csrf import CsrfForm
from regio.core.templating import render
from regio.risk.events import area as area_builder
from regio.risk.events import policies, service
from regio.risk.events.api import run_journey
from regio.risk.events.enums import (
    CATEGORY_NAMES_EN,
    CATEGORY_NAMES_ZH,
    CERTAINTY_NAMES_ZH,
    EVENT_TYPES,
    GRADE_NAMES_EN,
    GRADE_NAMES_ZH,
    LEVEL_COLOURS,
    LEVEL_NAMES_EN,
    LEVEL_NAMES_ZH,
    STATUS_NAMES_ZH,
    URGENCY_NAMES_ZH,
    Category,
    Certainty,
    Source,
    Status,
    Urgency,
)
from regio.risk.events.models import RiskEvent
from regio.risk.events.policies import Action
from regio.risk.events.schemas import ReportIn, UpdateIn
from regio.risk.geography import service as geography_service
from regio.risk.geography.api import Holder
from regio.risk.geography.enums import Level

router = APIRouter(tags=["events pages"], include_in_schema=False)

FormText = Annotated[str, Form(max_length=20_000)]
ShortText = Annotated[str, Form(max_length=200)]
MAP_WIDTH, MAP_HEIGHT = 640, 420
STATUS_NAMES_EN = {
    "active": "Active",
    "superseded": "Superseded",
    "cancelled": "Cancelled",
    "closed": "Closed",
    "merged": "Merged",
}


def _level_of(adcode: str) -> Level:
    if adcode.endswith("0000"):
        return Level.province
    if adcode.endswith("00"):
        return Level.prefecture
    return Level.county


def _choices() -> dict[str, Any]:
    return {
        "categories": [(c.value, CATEGORY_NAMES_ZH[c], CATEGORY_NAMES_EN[c]) for c in Category],
        "types": list(EVENT_TYPES.values()),
        "levels": [(n, LEVEL_NAMES_ZH[n], LEVEL_NAMES_EN[n], LEVEL_COLOURS[n]) for n in (1, 2, 3, 4)],
        "grades": [(n, GRADE_NAMES_ZH[n], GRADE_NAMES_EN[n]) for n in (1, 2, 3, 4)],
        "certainties": [(c.value, CERTAINTY_NAMES_ZH[c.value]) for c in Certainty],
        "urgencies": [(u.value, URGENCY_NAMES_ZH[u.value]) for u in Urgency],
    }


def _labels(event: RiskEvent) -> dict[str, Any]:
    """What a person reads for one version: names instead of codes, Beijing times."""
    known = EVENT_TYPES.get(event.event_type)
    if event.warning_level is not None:
        scale_zh, scale_en = (
            LEVEL_NAMES_ZH[event.warning_level],
            f"{LEVEL_NAMES_EN[event.warning_level]} warning",
        )
        colour = LEVEL_COLOURS[event.warning_level]
    else:
        scale_zh, scale_en = GRADE_NAMES_ZH[event.grade or 4], f"Grade {GRADE_NAMES_EN[event.grade or 4]}"
        colour = "grade"
    return {
        "event": event,
        "type_zh": known.name_zh if known else event.event_type,
        "type_en": known.name_en if known else event.event_type,
        "category_zh": CATEGORY_NAMES_ZH[Category(event.category)],
        "category_en": CATEGORY_NAMES_EN[Category(event.category)],
        "scale_zh": scale_zh,
        "scale_en": scale_en,
        "colour": colour,
        "status_zh": STATUS_NAMES_ZH[event.status],
        "status_en": STATUS_NAMES_EN[event.status],
        "certainty_zh": CERTAINTY_NAMES_ZH[event.certainty],
        "urgency_zh": URGENCY_NAMES_ZH[event.urgency],
        "detected": f"{service.local(event.detected_at):%Y-%m-%d %H:%M}",
        "reported": f"{service.local(event.reported_at):%Y-%m-%d %H:%M}",
    }


def _error_text(request: Request, error: DomainError) -> str:
    language: str = getattr(request.state, "language", "zh-CN")
    text = error.message(language)
    problems = error.details.get("problems") or error.details.get("problem")
    if isinstance(problems, str):
        text += f"（{problems}）"
    return text


@router.get("/risk/events", response_class=HTMLResponse)
async def list_page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    status: Annotated[Status, Query()] = Status.active,
) -> HTMLResponse:
    rows = await service.list_events(session, principal=principal, statuses=[status.value], limit=200)
    return render(
        request,
        "risk/events/list.html",
        {
            "rows": [_labels(row) for row in rows],
            "status": status.value,
            "statuses": [
                (s.value, STATUS_NAMES_ZH[s.value], STATUS_NAMES_EN[s.value])
                for s in Status
                if s != Status.superseded
            ],
            "may_report": policies.could_ever(principal, Action.report),
        },
    )


def _origins(principal: Principal) -> list[tuple[str, str]]:
    return [
        (f"{_level_of(code).value}:{code}", code)
        for code in sorted(policies.officer_jurisdictions(principal))
    ]


def _form_page(
    request: Request, principal: Principal, values: dict[str, Any], error: str = "", status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "risk/events/new.html",
        {**_choices(), "values": values, "error": error, "origins": _origins(principal)},
        status_code=status,
    )


@router.get("/risk/events/new", response_class=HTMLResponse)
async def new_page(request: Request, principal: CurrentPrincipal) -> HTMLResponse:
    if not policies.could_ever(principal, Action.report):
        raise policies_forbidden()
    now = service.local(datetime.now(tz=service.SHANGHAI))
    origins = _origins(principal)
    values = {
        "kind": "risk",
        "category": "natural_disaster",
        "event_type": "rainstorm",
        "warning_level": "3",
        "certainty": "Likely",
        "urgency": "Expected",
        "area_mode": "adcodes",
        "adcodes": origins[0][1] if origins else "",
        "detected_at": f"{now:%Y-%m-%dT%H:%M}",
        "origin": origins[0][0] if origins else "",
        "scope": "restricted",
        "radius_km": "10",
    }
    return _form_page(request, principal, values)


def policies_forbidden() -> DomainError:
    return Forbidden(action="risk_event.report")


def _area_from_form(values: dict[str, str]) -> dict[str, Any]:
    mode = values.get("area_mode", "adcodes")
    if mode == "circle":
        try:
            circle = {
                "lat": float(values.get("lat", "")),
                "lon": float(values.get("lon", "")),
                "radius_km": float(values.get("radius_km", "")),
            }
        except ValueError:
            raise ValidationFailed(problem="lat, lon and radius_km must be numbers") from None
        if not all(math.isfinite(v) for v in circle.values()):
            raise ValidationFailed(problem="lat, lon and radius_km must be finite")
        return {"circles": [circle]}
    if mode == "geojson":
        try:
            return {"geojson": json.loads(values.get("geojson", ""))}
        except ValueError:
            raise ValidationFailed(problem="the GeoJSON could not be read") from None
    if mode == "cap_polygon":
        return {"cap_polygons": [values.get("cap_polygon", "")]}
    codes = [code.strip() for code in values.get("adcodes", "").replace("，", ",").split(",") if code.strip()]
    return {"adcodes": codes}


@router.post("/risk/events/new", response_class=HTMLResponse, dependencies=[CsrfForm])
async def create_from_form(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
    category: ShortText,
    event_type: ShortText,
    kind: ShortText,
    certainty: ShortText,
    urgency: ShortText,
    origin: ShortText,
    detected_at: ShortText,
    area_mode: ShortText = "adcodes",
    warning_level: ShortText = "",
    grade: ShortText = "",
    scope: ShortText = "restricted",
    adcodes: ShortText = "",
    lat: ShortText = "",
    lon: ShortText = "",
    radius_km: ShortText = "",
    geojson: FormText = "",
    cap_polygon: FormText = "",
    headline: ShortText = "",
    description: FormText = "",
    instruction: FormText = "",
    attachments: Annotated[list[UploadFile], File()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    values = {
        "category": category,
        "event_type": event_type,
        "kind": kind,
        "warning_level": warning_level,
        "grade": grade,
        "certainty": certainty,
        "urgency": urgency,
        "origin": origin,
        "detected_at": detected_at,
        "area_mode": area_mode,
        "scope": scope,
        "adcodes": adcodes,
        "lat": lat,
        "lon": lon,
        "radius_km": radius_km,
        "geojson": geojson,
        "cap_polygon": cap_polygon,
        "headline": headline,
        "description": description,
        "instruction": instruction,
    }
    origin_level, _, origin_adcode = origin.partition(":")
    try:
        try:
            data = ReportIn.model_validate(
                {
                    "category": category,
                    "event_type": event_type,
                    "kind": kind,
                    # the form shows both scales; only the one of the chosen kind is sent on
                    "warning_level": int(warning_level) if kind == "risk" and warning_level else None,
                    "grade": int(grade) if kind == "event" and grade else None,
                    "certainty": certainty,
                    "urgency": urgency,
                    "scope": scope,
                    "origin_level": origin_level,
                    "origin_adcode": origin_adcode,
                    "area": _area_from_form(values),
                    "detected_at": detected_at,
                    "headline": headline,
                    "description": description,
                    "instruction": instruction,
                }
            )
        except (ValidationError, ValueError) as exc:
            problems = exc.errors() if isinstance(exc, ValidationError) else [{"loc": (), "msg": str(exc)}]
            raise ValidationFailed(
                problem="; ".join(f"{'.'.join(str(p) for p in e['loc'])} {e['msg']}" for e in problems[:5])
            ) from None
        limit = settings.risk_attachment_max_bytes
        files = [
            service.NewFile(
                filename=upload.filename or "attachment",
                content_type=upload.content_type or "application/octet-stream",
                data=await upload.read(limit + 1),
            )
            for upload in attachments
            if upload.filename
        ]
        change = await service.report(
            session=session,
            principal=principal,
            holder=holder,
            data=data,
            source=Source.form,
            sender=service.default_sender(settings.base_url),
            duplicate_window_hours=settings.risk_duplicate_window_hours,
            files=files,
            max_file_bytes=limit,
        )
    except DomainError as error:
        if error.status in (401, 403):
            raise
        return _form_page(request, principal, values, _error_text(request, error), status=error.status)
    await run_journey(session=session, bus=bus, holder=holder, settings=settings, event_id=change.event.id)
    return RedirectResponse(f"/risk/events/{change.event.id}", status_code=303)


def _svg_map(hazard: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """The hazard over the jurisdictions around it, projected for an SVG (equirectangular, scaled by latitude)."""
    area = shape(hazard)
    min_lon, min_lat, max_lon, max_lat = area.bounds
    pad_lon = max((max_lon - min_lon) * 0.4, 0.05)
    pad_lat = max((max_lat - min_lat) * 0.4, 0.05)
    min_lon, max_lon, min_lat, max_lat = (
        min_lon - pad_lon,
        max_lon + pad_lon,
        min_lat - pad_lat,
        max_lat + pad_lat,
    )
    squeeze = math.cos(math.radians((min_lat + max_lat) / 2))
    scale = min(MAP_WIDTH / ((max_lon - min_lon) * squeeze), MAP_HEIGHT / (max_lat - min_lat))

    def path(geometry: Any) -> str:
        parts = []
        polygons = (
            [geometry] if isinstance(geometry, shapely.Polygon) else list(getattr(geometry, "geoms", []))
        )
        for polygon in polygons:
            if not isinstance(polygon, shapely.Polygon):
                continue
            for ring in (polygon.exterior, *polygon.interiors):
                points = " ".join(
                    f"{(lon - min_lon) * squeeze * scale:.1f},{(max_lat - lat) * scale:.1f}"
                    for lon, lat in ring.coords
                )
                parts.append(f"M{points}Z")
        return " ".join(parts)

    hazard_path = path(area if not isinstance(area, shapely.Point) else area.buffer(0.01))
    jurisdictions = []
    for feature in layer.get("features", []):
        geometry = shape(feature["geometry"])
        jurisdictions.append({"name": feature["properties"]["name"], "d": path(geometry)})
    return {"width": MAP_WIDTH, "height": MAP_HEIGHT, "hazard": hazard_path, "jurisdictions": jurisdictions}


@router.get("/risk/events/{event_id}", response_class=HTMLResponse)
async def event_page(
    request: Request,
    event_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    notice: Annotated[str | None, Query(max_length=40)] = None,
    error: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    detail = await service.read_event(
        session=session,
        principal=principal,
        event_id=event_id,
        duplicate_window_hours=settings.risk_duplicate_window_hours,
    )
    event = await service.get_event(session, event_id)
    chain = await service.versions(session, event)
    current = chain[-1]
    shape_bounds = area_builder.as_shape(event.geometry).bounds
    layer = json.loads(
        await geography_service.map_layer(
            session=session,
            principal=principal,
            level=Level.prefecture,
            fine=True,
            bbox=(shape_bounds[0] - 0.5, shape_bounds[1] - 0.5, shape_bounds[2] + 0.5, shape_bounds[3] + 0.5),
        )
    )
    may_change = event.status == Status.active and await service.may(session, principal, Action.update, event)
    may_merge = event.status == Status.active and await service.may(session, principal, Action.merge, event)
    return render(
        request,
        "risk/events/detail.html",
        {
            **_choices(),
            "event": event,
            "item": _labels(event),
            "chain": [_labels(version) for version in chain],
            "current": current,
            "attachments": detail.attachments,
            "duplicates": detail.possible_duplicates,
            "map": _svg_map(event.geometry, layer),
            "may_change": may_change,
            "may_merge": may_merge,
            "notice": notice,
            "error": error,
        },
    )


@router.post("/risk/events/{event_id}/update", dependencies=[CsrfForm])
async def update_from_form(
    request: Request,
    event_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
    version: Annotated[int, Form(ge=1, le=100_000)],
    warning_level: ShortText = "",
    grade: ShortText = "",
    certainty: ShortText = "",
    urgency: ShortText = "",
    description: FormText = "",
) -> Response:
    try:
        fields: dict[str, Any] = {"version": version}
        if warning_level:
            fields.update(kind="risk", warning_level=int(warning_level), grade=None)
        elif grade:
            fields.update(kind="event", grade=int(grade), warning_level=None)
        if certainty:
            fields["certainty"] = certainty
        if urgency:
            fields["urgency"] = urgency
        if description:
            fields["description"] = description
        try:
            data = UpdateIn.model_validate(fields)
        except ValidationError:
            raise ValidationFailed(problem="update fields") from None
        new = await service.update(
            session=session,
            principal=principal,
            holder=holder,
            event_id=event_id,
            data=data,
            source=Source.form,
        )
    except DomainError as error:
        if error.status in (401, 403):
            raise
        return RedirectResponse(f"/risk/events/{event_id}?error={error.code}", status_code=303)
    await run_journey(session=session, bus=bus, holder=holder, settings=settings, event_id=new.id)
    return RedirectResponse(f"/risk/events/{new.id}?notice=updated", status_code=303)


@router.post("/risk/events/{event_id}/cancel", dependencies=[CsrfForm])
async def cancel_from_form(
    event_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
    version: Annotated[int, Form(ge=1, le=100_000)],
    reason: FormText = "",
) -> Response:
    try:
        new = await service.cancel(
            session=session,
            principal=principal,
            event_id=event_id,
            reason=reason,
            version=version,
            source=Source.form,
        )
    except DomainError as error:
        if error.status in (401, 403):
            raise
        return RedirectResponse(f"/risk/events/{event_id}?error={error.code}", status_code=303)
    await run_journey(session=session, bus=bus, holder=holder, settings=settings, event_id=new.id)
    return RedirectResponse(f"/risk/events/{new.id}?notice=cancelled", status_code=303)


@router.post("/risk/events/{event_id}/merge", dependencies=[CsrfForm])
async def merge_from_form(
    event_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bus: EventsDep,
    holder: Holder,
    into: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> Response:
    try:
        merged = await service.merge(
            session=session,
            principal=principal,
            event_id=event_id,
            into_id=into,
            reason="",
            duplicate_window_hours=settings.risk_duplicate_window_hours,
        )
    except DomainError as error:
        if error.status in (401, 403):
            raise
        return RedirectResponse(f"/risk/events/{event_id}?error={error.code}", status_code=303)
    await run_journey(session=session, bus=bus, holder=holder, settings=settings, event_id=merged.id)
    return RedirectResponse(f"/risk/events/{into}?notice=merged", status_code=303)
