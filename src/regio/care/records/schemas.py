"""Request and response models of clinical records."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from regio.care.records.enums import PriorSource, VisitType


class Icd10Out(BaseModel):
    code: str
    name_zh: str
    name_en: str
    category: str


class ReasonOut(BaseModel):
    code: str
    zh: str
    en: str


class VisitDecisionOut(BaseModel):
    visit_type: VisitType
    allows_diagnosis: bool
    reasons: list[ReasonOut]
    prior_id: int | None = None
    policy_key: str | None = None
    policy_version: int | None = None


class DiagnosisOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    visit_type: VisitType
    prior_id: int | None = None
    policy_key: str | None = None
    policy_version: int | None = None


class VersionOut(BaseModel):
    version: int
    notes: str
    advice: str
    diagnoses: list[DiagnosisOut]
    amendment_reason: str
    revision: int
    created_at: datetime
    signed: bool
    signed_at: datetime | None
    signed_by_user_id: int | None
    content_hash: str | None


class RecordOut(BaseModel):
    id: int
    consultation_id: int
    patient_id: int
    doctor_id: int
    hospital_id: int
    symptom_codes: list[str]
    patient_under_six: bool
    guardian_present: bool | None
    specialist_present: bool | None
    specialist_name: str
    latest_version: int
    versions: list[VersionOut]  # newest first; drafts only for the doctor
    earliest_deletion: date | None


class RecordSummaryOut(BaseModel):
    id: int
    consultation_id: int
    patient_id: int
    hospital_id: int
    doctor_id: int
    version: int
    signed_at: datetime
    diagnoses: list[DiagnosisOut]


_STRICT = ConfigDict(extra="forbid")


class DraftIn(BaseModel):
    model_config = _STRICT
    # Fields left out keep their value.
    notes: str | None = Field(default=None, max_length=20_000)
    advice: str | None = Field(default=None, max_length=5_000)
    symptom_codes: list[str] | None = Field(default=None, max_length=20)
    revision: int | None = Field(default=None, ge=0, le=1_000_000_000)


class DiagnosisIn(BaseModel):
    model_config = _STRICT
    code: str = Field(min_length=1, max_length=10)


class AttendanceIn(BaseModel):
    model_config = _STRICT
    guardian_present: bool
    specialist_present: bool
    specialist_name: str = Field(default="", max_length=100)


class SignIn(BaseModel):
    model_config = _STRICT
    # The revision the doctor saw; if the draft moved on since, signing is refused (409 record_changed).
    revision: int | None = Field(default=None, ge=0, le=1_000_000_000)


class AmendIn(BaseModel):
    model_config = _STRICT
    reason: str = Field(min_length=1, max_length=1_000)


class PriorIn(BaseModel):
    model_config = _STRICT
    patient_id: int = Field(ge=1, le=2**63 - 1)
    icd10_code: str = Field(min_length=1, max_length=10)
    diagnosed_on: date
    hospital_name: str = Field(min_length=1, max_length=200)
    hospital_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    source: PriorSource
    attachment_ref: str | None = Field(default=None, min_length=1, max_length=200)


class PriorOut(BaseModel):
    id: int
    patient_id: int
    icd10_code: str
    name_zh: str
    name_en: str
    category: str
    diagnosed_on: date
    hospital_name: str
    hospital_id: int | None
    source: PriorSource
    attachment_ref: str | None
    confirmed: bool
    confirmed_by_doctor_id: int | None
    confirmed_at: datetime | None
    counts: bool


class PolicyIn(BaseModel):
    model_config = _STRICT
    key: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    region_adcode: str = Field(pattern=r"^\d{2}0000$")
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    source: str = Field(min_length=1, max_length=2_000)
    valid_from: date
    valid_to: date
    icd10_categories: list[str] = Field(default_factory=list, max_length=200)
    symptom_codes: list[str] = Field(default_factory=list, max_length=50)


class PolicyOut(BaseModel):
    key: str
    version: int
    region_adcode: str
    name_zh: str
    name_en: str
    source: str
    valid_from: date
    valid_to: date
    icd10_categories: list[str]
    symptom_codes: list[str]
    current: bool  # the newest version of its key
    in_force_today: bool
    from_file: bool


class PrescribingDecisionOut(BaseModel):
    allowed: bool
    visit_type: VisitType | None
    reasons: list[ReasonOut]


class DiagnosisAddedOut(BaseModel):
    record: RecordOut
    decision: VisitDecisionOut


class EditorOut(BaseModel):
    """What the doctor's record editor shows: the consultation, its record (if opened) and the priors."""

    consultation_id: int
    consultation_status: str
    patient_id: int
    patient_under_six: bool
    record: RecordOut | None
    priors: list[PriorOut]
    prescribing: PrescribingDecisionOut
