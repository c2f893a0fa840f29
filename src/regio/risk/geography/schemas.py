"""Request and response shapes of the geography API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from regio.risk.geography.enums import Level, RiskCategory


class JurisdictionRef(BaseModel):
    adcode: str
    name: str
    level: Level


class JurisdictionList(BaseModel):
    jurisdictions: list[JurisdictionRef]


class JurisdictionDetail(JurisdictionRef):
    parent_adcode: str | None
    province_adcode: str
    area_km2: float
    label: tuple[float, float] = Field(description="A point inside, (lon, lat) WGS-84, for labels.")
    bbox: tuple[float, float, float, float] = Field(description="(west, south, east, north) WGS-84")


class JurisdictionDetailList(BaseModel):
    jurisdictions: list[JurisdictionDetail]


class MatchIn(BaseModel):
    """Exactly one of geometry, circle, cap_polygon, adcodes says where the hazard is."""

    model_config = ConfigDict(extra="forbid")

    geometry: dict[str, Any] | None = Field(
        default=None, description="GeoJSON Point, Polygon or MultiPolygon (WGS-84 lon/lat)."
    )
    circle: dict[str, Any] | None = Field(
        default=None, description='{"lat", "lon", "radius_km"}; the radius is geodesic.'
    )
    cap_polygon: str | None = Field(
        default=None, max_length=2_000_000, description='CAP 1.2 polygon: "lat,lon lat,lon ..." closed.'
    )
    adcodes: list[Any] | None = Field(default=None, max_length=5000, description="Whole jurisdictions.")
    level: Level = Level.county
    buffer_km: float = Field(
        default=0.0, ge=0.0, le=500.0, description="Also match within this geodesic distance."
    )
    overlap: bool = Field(
        default=False, description="Add overlap_fraction: the share of each jurisdiction covered."
    )


class MatchOut(BaseModel):
    adcode: str
    name: str
    level: Level
    distance_km: float = Field(description="Geodesic km from the hazard; 0 when it touches or lies inside.")
    overlap_fraction: float | None = Field(
        default=None, description="Share of the jurisdiction's area inside the hazard (grown by buffer_km)."
    )


class MatchResult(BaseModel):
    jurisdictions: list[MatchOut]


class OfficeOut(BaseModel):
    category: RiskCategory
    name: str
    name_en: str
    lead_adcode: str | None


class OfficerOut(BaseModel):
    user_id: int
    display_name: str
    role: str


class BodySummary(BaseModel):
    slug: str
    name: str
    name_en: str
    member_count: int


class BodyList(BaseModel):
    bodies: list[BodySummary]


class BodyDetail(BaseModel):
    slug: str
    name: str
    name_en: str
    description: str
    source: str
    members: list[JurisdictionRef]
    offices: list[OfficeOut]


class OfficerList(BaseModel):
    officers: list[OfficerOut]


class BodyMembershipList(BaseModel):
    bodies: list[BodySummary]
