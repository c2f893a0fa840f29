"""Request and response shapes of insurance enrolment, preview, orders, payments and refunds (money in fen)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_FEN = 100_000_000  # one million yuan: far above any online visit, low enough to stay exact everywhere
Adcode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Condition = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
SchemeName = Literal["employee", "resident"]
VisitType = Literal["follow_up", "first_visit"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreviewItemIn(_Strict):
    kind: Literal["consultation", "drug", "delivery"]
    amount_fen: int = Field(ge=0, le=MAX_FEN)
    insurance_class: Literal["甲", "乙"] | None = None
    visit_type: VisitType | None = None


class PreviewIn(_Strict):
    region: Adcode
    scheme: SchemeName
    date: date
    visit_type: VisitType = "follow_up"
    condition: Condition | None = None
    hospital_level: Literal["tertiary", "secondary", "primary"] = "tertiary"
    patient_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="A person you act for.")
    items: list[PreviewItemIn] = Field(min_length=1, max_length=50)


class LineOut(BaseModel):
    kind: str
    amount_fen: int
    fund: int
    personal_account: int
    out_of_pocket: int
    rule_zh: str
    rule_en: str


class PolicyOut(BaseModel):
    key: str
    version: int
    name_zh: str
    name_en: str
    source: str


class PreviewOut(BaseModel):
    total: int
    fund: int
    personal_account: int
    out_of_pocket: int
    lines: list[LineOut]
    policy: PolicyOut
    insured: bool = Field(description="Whether the person's enrolment (or the body's scheme) was settled.")
    deductible_applied: int


class EnrolmentIn(_Strict):
    region_adcode: Adcode
    scheme: SchemeName
    chronic_diseases: list[Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{2}$")]] = Field(
        default_factory=list, max_length=20
    )


class EnrolmentOut(BaseModel):
    patient_id: int
    region_adcode: str
    scheme: str
    chronic_diseases: list[str]
    personal_account_fen: int
    year: int
    deductible_used_fen: int
    fund_paid_fen: int


class OrderIn(_Strict):
    appointment_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    prescription_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    visit_type: VisitType = "follow_up"
    condition: Condition | None = None

    @model_validator(mode="after")
    def _one_thing(self) -> OrderIn:
        if (self.appointment_id is None) == (self.prescription_id is None):
            raise ValueError("name exactly one of appointment_id or prescription_id")
        return self


class ItemOut(BaseModel):
    kind: str
    name: str
    quantity: int
    amount_fen: int
    insurance_class: str | None


class RefundOut(BaseModel):
    reference: str
    amount_fen: int
    fund_fen: int
    personal_account_fen: int
    out_of_pocket_fen: int
    reason: str
    created_at: datetime


class OrderOut(BaseModel):
    id: int
    reference: str
    kind: str
    status: str
    status_zh: str
    status_en: str
    appointment_id: int | None
    prescription_id: int | None
    patient_id: int
    hospital_id: int
    items: list[ItemOut]
    total_fen: int
    fund_fen: int
    personal_account_fen: int
    out_of_pocket_fen: int
    refunded_fen: int
    lines: list[LineOut]
    policy: PolicyOut | None
    insured: bool
    settled: bool
    pay_url: str | None
    visit_type: str
    condition: str | None
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime
    refunds: list[RefundOut]


class RefundIn(_Strict):
    amount_fen: int | None = Field(
        default=None, ge=1, le=MAX_FEN, description="Leave out for everything left."
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class FeeIn(_Strict):
    hospital_id: int = Field(ge=1, le=2**63 - 1)
    mode: Literal["text", "voice", "video"]
    title: Literal["主任医师", "副主任医师", "主治医师", "住院医师"]
    amount_fen: int = Field(ge=0, le=MAX_FEN)


class FeeOut(BaseModel):
    hospital_id: int
    mode: str
    title: str
    amount_fen: int
    source: Literal["hospital", "default"]


class PriceIn(_Strict):
    pharmacy_id: int = Field(ge=1, le=2**63 - 1)
    drug_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    unit_price_fen: int = Field(ge=0, le=MAX_FEN)
