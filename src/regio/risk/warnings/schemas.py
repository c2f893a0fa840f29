"""Pydantic shapes of warnings, dashboard feed lines, responsibility lists and webhook subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

KEY_PATTERN = r"^((province|prefecture|county):\d{6}|body:[a-z0-9-]{1,64})$"


class WarningOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    root_id: int
    recipient_key: str
    recipient_kind: str
    recipient_level: str | None
    recipient_code: str
    recipient_name: str
    role: str
    origin_level: str
    origin_adcode: str
    origin_name: str
    kind: str
    level: int
    category: str
    event_type: str
    headline: str
    reason: str
    eta_hours: float | None
    confidence: float | None
    model: str
    status: str
    sent_at: datetime
    due_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_name: str
    escalation_step: int
    escalated_at: datetime | None


class WarningList(BaseModel):
    warnings: list[WarningOut]


class FeedItem(BaseModel):
    """One dashboard line; `id` is the sequence a dashboard resumes after."""

    id: int
    audience: str
    kind: str
    root_id: int
    warning_id: int | None
    payload: dict[str, Any]
    created_at: datetime


class Feed(BaseModel):
    audiences: list[str]
    items: list[FeedItem]


class AffectedOut(BaseModel):
    adcode: str
    name: str
    level: str
    reason: str
    eta_hours: float | None
    confidence: float | None


class PartyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    party_key: str
    kind: str
    level: str | None
    code: str
    name: str
    role: str
    added_at: datetime


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_key: str = Field(
        pattern=KEY_PATTERN, description="e.g. prefecture:330500 or body:yangtze-river-delta"
    )
    title: str = Field(min_length=1, max_length=300)
    title_en: str = Field(default="", max_length=300)
    deadline: datetime = Field(description="An aware time (with an offset); stored in UTC.")


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    root_id: int
    owner_key: str
    owner_name: str
    role: str
    title: str
    title_en: str
    deadline: datetime
    status: str
    done_at: datetime | None
    reminded_at: datetime | None
    reminders: int
    overdue: bool = False


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    text: str
    text_en: str


class Responsibility(BaseModel):
    root_id: int
    parties: list[PartyOut]
    tasks: list[TaskOut]
    warnings: list[WarningOut]
    timeline: list[TimelineEntry]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriber_key: str = Field(pattern=KEY_PATTERN)
    url: str = Field(min_length=8, max_length=1000)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_key: str
    url: str
    active: bool
    created_at: datetime
