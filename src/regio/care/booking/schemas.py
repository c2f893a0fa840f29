"""Request and response shapes of the booking API (and the views its pages render)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from regio.core.db import MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
ModeName = Annotated[str, Field(max_length=10)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TemplateIn(_In):
    hospital_id: Id
    department_code: str = Field(max_length=100)
    doctor_id: Id
    weekday: int = Field(ge=0, le=6, description="Monday 0 … Sunday 6")
    start_time: time = Field(description="Local time (Asia/Shanghai)")
    end_time: time = Field(description="Local; at or before start_time means the next day")
    modes: list[ModeName] = Field(min_length=1, max_length=3)
    slot_minutes: int = Field(ge=5, le=240)
    capacity_per_slot: int = Field(ge=1, le=1000)
    fee_fen: int = Field(default=0, ge=0, le=10_000_000)
    valid_from: date | None = None
    valid_to: date | None = None


class ShiftIn(_In):
    hospital_id: Id
    department_code: str = Field(max_length=100)
    doctor_id: Id
    local_date: date
    start_time: time
    end_time: time
    modes: list[ModeName] = Field(min_length=1, max_length=3)
    slot_minutes: int = Field(ge=5, le=240)
    capacity_per_slot: int = Field(ge=1, le=1000)
    fee_fen: int = Field(default=0, ge=0, le=10_000_000)


class ShiftCancelIn(_In):
    reason: str = Field(default="", max_length=200)


class AppointmentIn(_In):
    slot_id: Id
    patient_id: Id
    mode: ModeName | None = None
    # The triage this booking follows, if any: one that found danger signs refuses online booking.
    triage_assessment_id: Id | None = None


class WaitlistIn(_In):
    slot_id: Id
    patient_id: Id
    mode: ModeName | None = None


class ExtraIn(_In):
    places: int = Field(ge=1, le=50)
    reason: str = Field(min_length=1, max_length=200)


class LeaveIn(_In):
    doctor_id: Id
    from_date: date
    to_date: date
    hospital_id: Id | None = Field(default=None, description="Only this hospital's shifts (admins)")
    reason: str = Field(default="", max_length=200)


class MaterialiseIn(_In):
    hospital_id: Id
    days: int | None = Field(default=None, ge=1, le=90)


class TemplateOut(BaseModel):
    id: int
    hospital_id: int
    department_code: str
    doctor_id: int
    weekday: int
    start_time: time
    end_time: time
    modes: list[str]
    slot_minutes: int
    capacity_per_slot: int
    fee_fen: int
    valid_from: date
    valid_to: date | None
    active: bool


class SlotOut(BaseModel):
    id: int
    shift_id: int
    hospital_id: int
    hospital_name: str
    city_adcode: str
    department_code: str
    doctor_id: int
    doctor_name: str
    doctor_title: str
    local_date: date
    start_at: datetime
    end_at: datetime
    start_local: str
    end_local: str
    modes: list[str]
    capacity: int
    extra: int
    booked: int
    remaining: int
    fee_fen: int
    status: str


class ShiftOut(BaseModel):
    id: int
    template_id: int | None
    hospital_id: int
    hospital_name: str
    department_code: str
    doctor_id: int
    doctor_name: str
    local_date: date
    start_at: datetime
    end_at: datetime
    start_local: str
    end_local: str
    modes: list[str]
    slot_minutes: int
    capacity_per_slot: int
    fee_fen: int
    status: str
    cancel_reason: str | None
    slots: list[SlotOut] = Field(default_factory=list)


class AppointmentOut(BaseModel):
    id: int
    slot_id: int
    patient_id: int
    booked_by_user_id: int | None
    doctor_id: int
    hospital_id: int
    local_date: date
    mode: str
    status: str
    hold_expires_at: datetime | None
    is_extra: bool
    via_waitlist: bool
    confirmed_at: datetime | None
    ended_at: datetime | None
    cancel_reason: str | None
    slot: SlotOut | None = None


class WaitlistOut(BaseModel):
    id: int
    slot_id: int
    patient_id: int
    status: str
    position: int | None
    appointment_id: int | None
    created_at: datetime


class NoShowOut(BaseModel):
    appointment_id: int
    patient_id: int
    no_shows_in_window: int
    banned_until: datetime | None


class LeaveOut(BaseModel):
    id: int
    doctor_id: int
    from_date: date
    to_date: date
    shifts_cancelled: int
    appointments_cancelled: int


class MaterialiseOut(BaseModel):
    shifts_created: int
    slots_created: int


class GapOut(BaseModel):
    hospital_id: int
    hospital_name: str
    department_code: str
    department_name_zh: str
    department_name_en: str
    around_the_clock: bool
    date: date
    start_local: datetime
    end_local: datetime


class CoverageOut(BaseModel):
    from_date: date
    days: int
    hospitals: int
    departments: int
    gaps: list[GapOut]


class NotificationOut(BaseModel):
    id: int
    kind: str
    appointment_id: int | None
    text_zh: str
    text_en: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
