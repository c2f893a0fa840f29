"""Request and answer shapes of the triage API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from regio.care.triage.enums import Advice, Sex, Urgency
from regio.core.db import MAX_ID

Code = str


class TriageIn(BaseModel):
    """The questionnaire. Ranges are checked by the service, so an impossible value gets its own code."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    age_years: int | None = Field(default=None, description="Age in whole years (or give age_months).")
    age_months: int | None = Field(default=None, description="Age in months, for infants and toddlers.")
    sex: Sex
    temperature_c: float | None = Field(default=None, description="Highest temperature now, °C (optional).")
    fever_days: int | None = Field(default=None, description="Days the fever has lasted so far.")
    spo2: int | None = Field(default=None, description="Oxygen saturation, % (from a finger oximeter).")
    pregnant: bool = False
    breastfeeding: bool = False
    symptoms: list[Code] = Field(default_factory=list, max_length=40)
    chronic_conditions: list[Code] = Field(default_factory=list, max_length=40)
    patient_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="A patient you may act for; omit to triage anonymously."
    )


class ReasonOut(BaseModel):
    rule_id: str
    kind: str
    text: str
    text_zh: str
    text_en: str
    source: str


class TriageOut(BaseModel):
    id: int
    patient_id: int | None
    rules_version: str
    department: str
    department_name_zh: str
    department_name_en: str
    urgency: Urgency
    urgency_label: str
    advice: Advice
    advice_label: str
    go_offline: bool
    online_allowed: bool
    red_flags: list[str]
    reasons: list[ReasonOut]
    created_at: datetime


class CodeOut(BaseModel):
    code: str
    zh: str
    en: str


class CodesOut(BaseModel):
    rules_version: str
    valid_from: str
    valid_to: str
    symptoms: list[CodeOut]
    chronic_conditions: list[CodeOut]
    sexes: list[str]
    urgencies: list[str]
