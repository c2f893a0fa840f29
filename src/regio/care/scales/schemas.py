"""Request and answer shapes of the scales API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from regio.core.db import MAX_ID


class ResponseIn(BaseModel):
    """Item scores in the scale's order; the patient defaults to the signed-in person's own record."""

    model_config = ConfigDict(extra="forbid")

    answers: list[int] = Field(
        max_length=200, description="One score per item, in order (PHQ-9: nine values 0–3)."
    )
    patient_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class HotlineOut(BaseModel):
    number: str
    name: str
    name_zh: str
    name_en: str


class FlagOut(BaseModel):
    code: str
    item: str
    urgent: bool
    text: str


class ResponseOut(BaseModel):
    id: int
    scale: str
    scale_version: str
    patient_id: int
    score: int
    max_score: int
    severity: str
    severity_label: str
    severity_label_zh: str
    severity_label_en: str
    urgent: bool
    flags: list[FlagOut]
    crisis_hotlines: list[HotlineOut] = Field(description="Shown at once when the result is urgent.")
    alert_id: int | None
    authored_at: datetime
    resource_url: str


class ScaleSummaryOut(BaseModel):
    id: str
    version: str
    title: str
    title_zh: str
    title_en: str
    items: int
    max_score: int
    loinc: str
    url: str


class ScaleOut(ScaleSummaryOut):
    source: str
    questionnaire: dict[str, Any] = Field(description="The FHIR R4 Questionnaire resource.")


class AlertOut(BaseModel):
    id: int
    response_id: int
    patient_id: int
    scale: str
    score: int
    severity: str
    status: str
    department: str
    raised_at: datetime
    escalate_at: datetime
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by_user_id: int | None


class NoticeOut(BaseModel):
    id: int
    alert_id: int
    kind: str
    text: str
    created_at: datetime
    read_at: datetime | None
