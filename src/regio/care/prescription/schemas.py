"""Request and response shapes of drugs, safety checks, prescriptions, review and dispensing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Icd10 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=10)]
DoseUnit = Literal["mg", "g", "ug", "ml", "IU", "puff", "drop", "unit"]
KindName = Literal["ordinary", "emergency", "long_term"]
SexName = Literal["male", "female", "unknown"]

# 处方管理办法 第六条: one prescription holds at most 5 drugs (western and patent Chinese medicines).
MAX_LINES = 5
MAX_CHECK_LINES = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineIn(_Strict):
    drug_code: Code
    dose: float = Field(gt=0, le=100_000, allow_inf_nan=False, description="One dose, in dose_unit.")
    dose_unit: DoseUnit
    route: ShortText = Field(description="po, iv, im, sc, inh, top, oph, sl, pr, nas")
    frequency: ShortText = Field(description="qd, bid, tid, qid, q6h, q8h, q12h, qn, qod, qw, st, prn")
    days: int = Field(ge=1, le=365)
    quantity: int | None = Field(default=None, ge=1, le=999, description="Packs or units to dispense.")
    prn_max_per_day: float | None = Field(default=None, gt=0, le=24, allow_inf_nan=False)
    instructions: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class ProfileIn(_Strict):
    """The patient facts the checks need, as a pharmacy system sends them."""

    age_years: float = Field(ge=0, le=130, allow_inf_nan=False)
    sex: SexName = "unknown"
    weight_kg: float | None = Field(default=None, gt=0.2, le=500, allow_inf_nan=False)
    pregnant: bool | None = None
    trimester: int | None = Field(default=None, ge=1, le=3)
    lactating: bool | None = None
    allergies: list[ShortText] = Field(default_factory=list, max_length=30)
    diagnoses: list[Icd10] = Field(default_factory=list, max_length=20)


class CheckIn(_Strict):
    patient: ProfileIn
    kind: KindName = "ordinary"
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_CHECK_LINES)


class FindingOut(BaseModel):
    key: str
    check: str
    severity: str
    drugs: list[str]
    message_zh: str
    message_en: str
    source: str
    management_zh: str = ""


class CheckOut(BaseModel):
    findings: list[FindingOut]
    blocking: list[str] = Field(
        description="Keys of contraindicated findings: the prescription cannot be signed."
    )
    needs_override: list[str] = Field(description="Keys of major findings: signing needs a reason for each.")


class PatientFactsIn(_Strict):
    """What the doctor confirms about the patient for the checks (age and sex come from the patient)."""

    weight_kg: float | None = Field(default=None, gt=0.2, le=500, allow_inf_nan=False)
    pregnant: bool | None = None
    trimester: int | None = Field(default=None, ge=1, le=3)
    lactating: bool | None = None
    allergies: list[ShortText] = Field(default_factory=list, max_length=30)


class PrescriptionIn(_Strict):
    kind: KindName = "ordinary"
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    patient: PatientFactsIn = Field(default_factory=PatientFactsIn)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
    revision: int | None = Field(default=None, ge=1, description="The revision you edited (changes only).")


class RepeatIn(_Strict):
    consultation_id: int = Field(ge=1, le=2**63 - 1)


class SignIn(_Strict):
    pin: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    revision: int = Field(ge=1)
    overrides: dict[Annotated[str, StringConstraints(max_length=120)], Reason] = Field(
        default_factory=dict, max_length=50
    )


class KeyIn(_Strict):
    pin: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    current_pin: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class KeyOut(BaseModel):
    has_key: bool
    key_id: str | None = None
    created_at: datetime | None = None
    certified: bool = False
    locked_until: datetime | None = None


class ReviewIn(_Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class FulfilmentIn(_Strict):
    pharmacy_id: int = Field(ge=1, le=2**63 - 1)
    method: Literal["pickup", "delivery"]
    recipient_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    recipient_phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""


class PickupIn(_Strict):
    pharmacy_id: int = Field(ge=1, le=2**63 - 1)
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]


class DrugOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    brands: list[str]
    dosage_form: str
    strength: str
    atc: str
    rx: bool
    insurance_class: str | None
    control: str
    dose_unit: str
    adult_usual_daily: float | None
    adult_max_daily: float | None
    cold_chain: bool


class LineOut(BaseModel):
    drug_code: str
    name_zh: str
    name_en: str
    strength: str
    dosage_form: str
    dose: float
    dose_unit: str
    route: str
    frequency: str
    frequency_zh: str
    days: int
    quantity: int | None
    prn_max_per_day: float | None
    instructions: str
    cold_chain: bool


class PharmacyOut(BaseModel):
    id: int
    name: str
    kind: str
    address: str
    phone: str
    delivers: bool
    cold_chain: bool
    hospital_id: int | None
    has_stock: bool


class CourierEventOut(BaseModel):
    status: str
    label_zh: str
    label_en: str
    occurred_at: datetime
    applied: bool


class FulfilmentOut(BaseModel):
    method: str
    pharmacy: PharmacyOut
    pickup_code: str | None = Field(default=None, description="Shown to the patient only.")
    pickup_used_at: datetime | None
    recipient_name: str
    recipient_phone: str
    address: str
    cold_chain: bool
    tracking_id: str | None
    delivery_status: str | None
    delivery_label_zh: str | None
    delivery_label_en: str | None
    events: list[CourierEventOut]


class DispenseOut(BaseModel):
    pharmacy_id: int
    method: str
    dispensed_at: datetime
    quantities: list[dict[str, object]]


class PrescriptionOut(BaseModel):
    id: int
    consultation_id: int
    patient_id: int
    patient_name: str
    patient_age: int
    patient_sex: str
    doctor_id: int
    doctor_name: str
    hospital_id: int
    hospital_name: str
    kind: str
    status: str
    status_zh: str
    status_en: str
    fhir_status: str
    diagnoses: list[str]
    patient_facts: dict[str, object]
    lines: list[LineOut]
    findings: list[FindingOut]
    overrides: dict[str, str]
    note: str
    revision: int
    repeat_of_id: int | None
    key_id: str | None
    signed_at: datetime | None
    signature_valid: bool | None = Field(description="Verified on this read; null while unsigned.")
    fingerprint: str | None = Field(description="SHA-256 of the signed canonical document.")
    submitted_at: datetime | None
    review_due_at: datetime | None
    overdue: bool
    reviewer_name: str | None
    reviewed_at: datetime | None
    review_note: str
    created_at: datetime
    fulfilment: FulfilmentOut | None
    dispense: DispenseOut | None
    paid_at: datetime | None = None


class QueueItemOut(BaseModel):
    id: int
    status: str
    kind: str
    patient_name: str
    patient_age: int
    patient_sex: str
    doctor_name: str
    drugs: list[str]
    submitted_at: datetime | None
    review_due_at: datetime | None
    overdue: bool
    claimed_by_me: bool
    major: int
    no_data: int


class DoctorStatsOut(BaseModel):
    doctor_id: int
    doctor_name: str
    prescriptions: int
    approved: int
    rejected: int
    returned: int
    lines: int
    top_drugs: list[str]


class StatsOut(BaseModel):
    hospital_id: int
    from_date: str
    to_date: str
    doctors: list[DoctorStatsOut]
