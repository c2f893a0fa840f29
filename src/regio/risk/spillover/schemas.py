"""Request and response shapes of the spill-over API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from regio.risk.geography.enums import Level
from regio.risk.spillover.enums import Model


class SpilloverIn(BaseModel):
    """One model on demand; the model's own parameters sit beside these fields (params.NUMBERS)."""

    model_config = ConfigDict(extra="allow")

    model: Model
    origin: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="Adcode of the origin jurisdiction, e.g. 420500."
    )
    geometry: dict[str, Any] | None = Field(
        default=None, description="The hazard's area or point, GeoJSON WGS-84 (lon/lat)."
    )
    level: Level = Field(default=Level.prefecture, description="The level to answer at.")
    severity_rank: int = Field(default=2, ge=1, le=4, description="1 highest ... 4; sets defaults.")


class AffectedOut(BaseModel):
    adcode: str
    name: str
    level: Level
    reason: str = Field(description="Stable code, e.g. river.downstream, plume.extrapolated.")
    reason_zh: str
    reason_en: str
    eta_hours: float | None = Field(description="Hours after detection; null when unknown.")
    confidence: float = Field(ge=0.0, le=1.0)
    model: str


class SpilloverOut(BaseModel):
    model: str
    affected: list[AffectedOut]


class ReachOut(BaseModel):
    network: str
    river: str
    from_node: str
    to_node: str
    length_km: float
    travel_hours: float
    adcodes: list[str]


class ReachList(BaseModel):
    reaches: list[ReachOut]


class ImportSummary(BaseModel):
    name: str
    reaches: int
    replaced: bool
