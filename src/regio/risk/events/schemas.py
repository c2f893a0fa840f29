"""Requests and answers of risk reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from regio.risk.events.enums import Category, Certainty, Kind, Scope, Urgency
from regio.risk.geography.enums import Level

Adcode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
MAX_AREA_PARTS = 20


class CircleIn(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0, le=1000)


class AreaIn(BaseModel):
    """Where the hazard is: any mix of whole jurisdictions, circles, CAP polygons and one GeoJSON geometry."""

    model_config = ConfigDict(extra="forbid")

    adcodes: list[Adcode] = Field(default_factory=list, max_length=MAX_AREA_PARTS)
    circles: list[CircleIn] = Field(default_factory=list, max_length=MAX_AREA_PARTS)
    # CAP 1.2 polygons: "lat,lon lat,lon ..." in WGS-84, first pair equal to the last
    cap_polygons: list[Annotated[str, StringConstraints(max_length=2_000_000)]] = Field(
        default_factory=list, max_length=MAX_AREA_PARTS
    )
    geojson: dict[str, Any] | None = None


class ReportIn(BaseModel):
    """A risk (warning level 1–4) or an event that has happened (grade I–IV) reported by its origin."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    event_type: str = Field(min_length=1, max_length=64)
    kind: Kind
    warning_level: int | None = Field(default=None, ge=1, le=4)
    grade: int | None = Field(default=None, ge=1, le=4)
    certainty: Certainty
    urgency: Urgency
    scope: Scope = Scope.restricted
    origin_level: Level
    origin_adcode: Adcode
    area: AreaIn
    # A time without an offset is read as Beijing time, as people type it.
    detected_at: datetime
    expires_at: datetime | None = None
    headline: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=20_000)
    instruction: str = Field(default="", max_length=5_000)


class UpdateIn(BaseModel):
    """A new version: only the fields given change; `version` (if given) must still be the current one."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=100_000)
    kind: Kind | None = None
    warning_level: int | None = Field(default=None, ge=1, le=4)
    grade: int | None = Field(default=None, ge=1, le=4)
    certainty: Certainty | None = None
    urgency: Urgency | None = None
    scope: Scope | None = None
    area: AreaIn | None = None
    detected_at: datetime | None = None
    expires_at: datetime | None = None
    headline: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    instruction: str | None = Field(default=None, max_length=5_000)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=100_000)
    reason: str = Field(default="", max_length=5_000)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: int = Field(ge=1, le=2**63 - 1)
    reason: str = Field(default="", max_length=2_000)


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    identifier: str
    sender: str
    version: int
    references_id: int | None
    root_id: int | None
    msg_type: str
    status: str
    category: str
    event_type: str
    kind: str
    warning_level: int | None
    grade: int | None
    severity: str
    certainty: str
    urgency: str
    scope: str
    origin_level: str
    origin_adcode: str
    geometry: dict[str, Any]
    area: dict[str, Any]
    area_desc: str
    detected_at: datetime
    reported_at: datetime
    expires_at: datetime | None
    reported_by_user_id: int | None
    headline: str
    description: str
    instruction: str
    source: str
    merged_into_id: int | None


class ChangeOut(BaseModel):
    """The answer to a report, an update, a cancel or a merge."""

    event_id: int
    event: EventOut
    possible_duplicates: list[int] = Field(default_factory=list)
    affected: list[dict[str, Any]] = Field(default_factory=list)
    # True when the journey could not run right after commit; the outbox runs it again
    affected_pending: bool = False


class AttachmentOut(BaseModel):
    id: int
    event_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


class EventDetail(BaseModel):
    event: EventOut
    versions: list[EventOut]
    attachments: list[AttachmentOut]
    possible_duplicates: list[int]


class EventList(BaseModel):
    events: list[EventOut]


class EventTypeOut(BaseModel):
    code: str
    category: str
    name_zh: str
    name_en: str
