"""JSON routes of geography: jurisdictions, neighbours, hazard matching, map layers, coordination bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from regio.core.deps import CurrentPrincipal, SessionDep
from regio.core.errors import InvalidInput
from regio.risk.geography import service
from regio.risk.geography.engine import IndexHolder
from regio.risk.geography.enums import Level
from regio.risk.geography.schemas import (
    BodyDetail,
    BodyList,
    BodyMembershipList,
    JurisdictionDetailList,
    JurisdictionList,
    MatchIn,
    MatchResult,
    OfficerList,
)

router = APIRouter(prefix="/api/risk", tags=["geography"])

Adcode = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 six-digit code, e.g. 330100")]
Slug = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]


def index_holder(request: Request) -> IndexHolder:
    """The app's one in-memory index holder (made on first use when the lifespan did not run)."""
    holder: IndexHolder | None = getattr(request.app.state, "geography_index", None)
    if holder is None:
        holder = IndexHolder()
        request.app.state.geography_index = holder
    return holder


Holder = Annotated[IndexHolder, Depends(index_holder)]


@router.get("/jurisdictions/{adcode}", response_model=JurisdictionDetailList)
async def get_jurisdiction(
    adcode: Adcode, session: SessionDep, principal: CurrentPrincipal
) -> JurisdictionDetailList:
    return await service.get_jurisdictions(session=session, principal=principal, adcode=adcode)


@router.get("/jurisdictions/{adcode}/neighbors", response_model=JurisdictionList)
async def get_neighbors(
    adcode: Adcode,
    session: SessionDep,
    principal: CurrentPrincipal,
    holder: Holder,
    level: Annotated[Level | None, Query(description="Default: the jurisdiction's own level.")] = None,
) -> JurisdictionList:
    return await service.neighbors(
        session=session, principal=principal, holder=holder, adcode=adcode, level=level
    )


@router.get("/jurisdictions/{adcode}/bodies", response_model=BodyMembershipList)
async def get_bodies_of(
    adcode: Adcode, session: SessionDep, principal: CurrentPrincipal
) -> BodyMembershipList:
    return await service.bodies_of(session=session, principal=principal, adcode=adcode)


@router.post("/match", response_model=MatchResult, response_model_exclude_none=True)
async def match(
    body: MatchIn, session: SessionDep, principal: CurrentPrincipal, holder: Holder
) -> MatchResult:
    return await service.match(session=session, principal=principal, holder=holder, request=body)


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        raise InvalidInput(field="bbox", expected="west,south,east,north") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput(
            field="bbox", expected="west <= east within -180..180, south <= north within -90..90"
        )
    return west, south, east, north


@router.get("/map/layer", response_class=Response)
async def map_layer(
    session: SessionDep,
    principal: CurrentPrincipal,
    level: Level = Level.province,
    detail: Annotated[str, Query(pattern="^(coarse|fine)$")] = "coarse",
    bbox: Annotated[str | None, Query(max_length=100, description="west,south,east,north")] = None,
) -> Response:
    text = await service.map_layer(
        session=session, principal=principal, level=level, fine=detail == "fine", bbox=_bbox(bbox)
    )
    return Response(
        text, media_type="application/geo+json", headers={"Cache-Control": "private, max-age=300"}
    )


@router.get("/coordination-bodies", response_model=BodyList)
async def list_bodies(session: SessionDep, principal: CurrentPrincipal) -> BodyList:
    return await service.list_bodies(session=session, principal=principal)


@router.get("/coordination-bodies/{slug}", response_model=BodyDetail)
async def get_body(slug: Slug, session: SessionDep, principal: CurrentPrincipal) -> BodyDetail:
    return await service.get_body(session=session, principal=principal, slug=slug)


@router.get("/coordination-bodies/{slug}/officers", response_model=OfficerList)
async def body_officers(slug: Slug, session: SessionDep, principal: CurrentPrincipal) -> OfficerList:
    return await service.body_officers(session=session, principal=principal, slug=slug)
