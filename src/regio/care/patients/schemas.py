"""Request and answer shapes; every identity number and phone in an answer is masked, except RevealOut."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from regio.care.patients.idnumber import Sex
from regio.care.patients.models import BindingStatus, EndReason, Relation


class PatientIn(BaseModel):
    """Register a person: the number and phone are checked by the service, so a bad one gets its own code."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(description="Real name as on the identity card.")
    id_number: str = Field(description="18-character resident identity number (GB 11643).")
    phone: str = Field(description="Mainland mobile number; +86 tolerated.")
    relation: Relation = Field(default=Relation.self_, description="What this person is to you.")


class BindingRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(description="The registered person's identity number.")
    relation: Relation


class PatientOut(BaseModel):
    id: int
    name: str
    id_number_masked: str = Field(examples=["330106********1234"])
    phone_masked: str = Field(examples=["138****5678"])
    sex: Sex
    age: int
    is_minor: bool
    needs_guardian_presence: bool = Field(
        description="Under 6: an online prescription needs a guardian and a relevant doctor present."
    )
    has_account: bool


class BindingOut(BaseModel):
    id: int
    patient_id: int
    user_id: int
    relation: Relation
    is_guardian: bool
    status: BindingStatus
    requested_by_user_id: int
    requested_at: datetime
    accepted_by_user_id: int | None = None
    accepted_at: datetime | None = None
    ended_by_user_id: int | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None


class BoundPatientOut(BaseModel):
    """A patient the principal may act for, and the binding that allows it."""

    patient: PatientOut
    binding: BindingOut


class PatientListOut(BaseModel):
    items: list[BoundPatientOut]


class BindingRequestOut(BaseModel):
    """A pending request as its requester sees it: who still has to consent, no personal data."""

    binding: BindingOut
    awaiting: str = Field(
        description="the_person | guardian | family | the_person_to_sign_up: who must accept.",
    )


class IncomingRequestOut(BaseModel):
    """A request this user may accept or decline."""

    binding: BindingOut
    patient_name: str
    requested_by_name: str


class BindingRequestsOut(BaseModel):
    incoming: list[IncomingRequestOut]
    outgoing: list[BindingOut]


class RevealOut(BaseModel):
    """The clear values, only through the audited reveal."""

    patient_id: int
    id_number: str
    phone: str
