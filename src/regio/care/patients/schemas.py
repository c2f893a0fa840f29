"""Request and answer shapes; every identity number and phone in an answer is masked, except RevealOut."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from regio.care.patients.idnumber import Sex
from regio.care.patients.models import BindingStatus, ClaimPurpose, EndReason, Relation


class PatientIn(BaseModel):
    """Register a person: the number and phone are checked by the service, so a bad one gets its own code."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(description="Real name as on the identity card.")
    id_number: str = Field(description="18-character resident identity number (GB 11643).")
    phone: str = Field(description="Mainland mobile number; +86 tolerated.")
    relation: Relation = Field(default=Relation.self_, description="What this person is to you.")


class BindingRequestIn(BaseModel):
    """Ask to bind a person by identity number; "self" is refused (claim with a code instead)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(max_length=40, description="The person's identity number.")
    relation: Relation


class ClaimIn(BaseModel):
    """I am this person: send a code to the phone on the record, if these details match it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(max_length=40)
    phone: str = Field(max_length=40, description="The phone the record was registered with.")


class CodeRequestIn(BaseModel):
    """The person's phone, where the code for their consent is sent if it matches their record."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str = Field(max_length=40)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(max_length=20, description="The 6-digit code from the text message.")


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


class CodeSentOut(BaseModel):
    """Where a code went, masked; the same answer whether or not the details matched a record."""

    claim_id: int
    purpose: ClaimPurpose
    phone_masked: str = Field(examples=["138****5678"])
    expires_in_seconds: int
    message_zh: str
    message_en: str


class BoundPatientOut(BaseModel):
    """A patient the principal may act for (or has registered), and the binding that allows it.

    An adult registered by someone else binds them only once the person consents: the binding
    is pending and `consent` says where the code for that consent was sent.
    """

    patient: PatientOut
    binding: BindingOut
    consent: CodeSentOut | None = None


class PatientListOut(BaseModel):
    items: list[BoundPatientOut]


class BindingRequestRecordedOut(BaseModel):
    """The one answer to a binding request, whether or not the number is registered."""

    request_id: int
    status: str = "recorded"
    message_zh: str = "绑定申请已记录；对方（或其监护人）同意后生效。"
    message_en: str = "Request recorded; it takes effect once the person (or a guardian) accepts."


class OutgoingRequestOut(BaseModel):
    """One of my requests still waiting; it says nothing about whether the number is registered."""

    request_id: int
    relation: Relation
    requested_at: datetime


class IncomingRequestOut(BaseModel):
    """A request this user may accept or decline."""

    binding: BindingOut
    patient_name: str
    requested_by_name: str


class BindingRequestsOut(BaseModel):
    incoming: list[IncomingRequestOut]
    outgoing: list[OutgoingRequestOut]


class ClaimConfirmedOut(BaseModel):
    """What a confirmed code did: the binding it made active, and any it ended (a taken-back record)."""

    purpose: ClaimPurpose
    patient: PatientOut
    binding: BindingOut
    ended_binding_ids: list[int] = Field(default_factory=list)


class RevealOut(BaseModel):
    """The clear values, only through the audited reveal."""

    patient_id: int
    id_number: str
    phone: str
