"""Statuses of booking records, stored as strings and guarded by check constraints.

They follow FHIR R4: a Slot is free/busy (derived from places left) or entered-in-error
(cancelled here); an Appointment is pending (held), booked (confirmed), cancelled, noshow;
FHIR has no "expired", which maps onto cancelled with cancelationReason "expired".
"""

from __future__ import annotations

from enum import StrEnum


class ShiftStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"  # by leave or by an admin; its slots are cancelled with it


class SlotStatus(StrEnum):
    open = "open"
    cancelled = "cancelled"


class AppointmentStatus(StrEnum):
    held = "held"  # a place is kept for the patient until hold_expires_at
    confirmed = "confirmed"
    cancelled = "cancelled"
    expired = "expired"  # a hold nobody confirmed in time
    no_show = "no_show"


ACTIVE_APPOINTMENT = (AppointmentStatus.held, AppointmentStatus.confirmed)


class WaitlistStatus(StrEnum):
    waiting = "waiting"
    offered = "offered"  # a hold was made for them; the appointment tells how it ended
    skipped = "skipped"  # could not be offered (already booked with that doctor that day)
    left = "left"
    cancelled = "cancelled"  # the slot was cancelled


class Mode(StrEnum):
    """图文 / 语音 / 视频问诊."""

    text = "text"
    voice = "voice"
    video = "video"


class CancelReason(StrEnum):
    patient = "patient"
    doctor_leave = "doctor_leave"
    shift_cancelled = "shift_cancelled"
    expired = "expired"


class NotificationKind(StrEnum):
    waitlist_offer = "waitlist_offer"
    hold_expired = "hold_expired"
    cancelled_by_hospital = "cancelled_by_hospital"
