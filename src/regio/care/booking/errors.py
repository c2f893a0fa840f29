"""Refusals of the booking subdomain, each with a stable code and both languages."""

from __future__ import annotations

from regio.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class SlotFull(Conflict):
    code = "slot_full"
    message_en = "This time slot is fully booked."
    message_zh = "该时段号源已满。"


class SlotNotFound(NotFound):
    code = "slot_not_found"
    message_en = "No such time slot."
    message_zh = "未找到该时段。"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"
    message_en = "This time slot has started or been cancelled and can no longer be booked."
    message_zh = "该时段已开始或已停诊，无法预约。"


class SlotHasPlaces(Conflict):
    code = "slot_has_places"
    message_en = "This time slot still has places; book it instead of joining the waitlist."
    message_zh = "该时段仍有号源，请直接预约，无需候补。"


class OneBookingPerDoctorPerDay(Conflict):
    code = "one_booking_per_doctor_per_day"
    message_en = "This patient already has an active booking with this doctor on that day."
    message_zh = "该就诊人当天已预约过这位医生，同一医生每天限约 {limit} 次。"


class BookingBanned(Forbidden):
    code = "booking_banned"
    message_en = "Booking is suspended until {until_local} after {count} missed appointments within {window_days} days."
    message_zh = "{window_days} 天内爽约 {count} 次，{until_local} 前暂停预约。"


class AppointmentNotFound(NotFound):
    code = "appointment_not_found"
    message_en = "No such booking."
    message_zh = "未找到该预约。"


class HoldExpired(Conflict):
    code = "hold_expired"
    message_en = "The hold on this place has expired; please book again."
    message_zh = "该号源保留已过期，请重新预约。"


class InvalidAppointmentState(Conflict):
    code = "invalid_appointment_state"
    message_en = "This booking is {status} and cannot be changed that way."
    message_zh = "该预约当前状态为 {status}，无法执行此操作。"


class CancelCutoffPassed(Conflict):
    code = "cancel_cutoff_passed"
    message_en = "Bookings can only be cancelled until {cutoff_minutes} minutes before the start."
    message_zh = "距就诊开始不足 {cutoff_minutes} 分钟，无法取消。"


class NoShowTooEarly(Conflict):
    code = "no_show_too_early"
    message_en = "A no-show can only be recorded after the slot has started."
    message_zh = "时段开始后才能登记爽约。"


class AlreadyWaiting(Conflict):
    code = "already_waiting"
    message_en = "This patient is already on the waitlist for this slot."
    message_zh = "该就诊人已在此时段的候补名单中。"


class WaitlistEntryNotFound(NotFound):
    code = "waitlist_entry_not_found"
    message_en = "No such waitlist entry."
    message_zh = "未找到该候补记录。"


class ShiftNotFound(NotFound):
    code = "shift_not_found"
    message_en = "No such shift."
    message_zh = "未找到该排班。"


class TemplateNotFound(NotFound):
    code = "roster_template_not_found"
    message_en = "No such roster template."
    message_zh = "未找到该排班模板。"


class InvalidMode(InvalidInput):
    code = "invalid_mode"
    message_en = "Consultation modes must be text, voice or video, and offered by the slot."
    message_zh = "问诊方式须为图文、语音或视频，且为该时段提供的方式。"


class InvalidTimeWindow(InvalidInput):
    code = "invalid_time_window"
    message_en = "The time window must be at least one slot long and at most 24 hours."
    message_zh = "时间段至少为一个号源时长，且不超过 24 小时。"


class ShiftInPast(InvalidInput):
    code = "shift_in_past"
    message_en = "A shift must start in the future."
    message_zh = "排班开始时间须晚于当前时间。"


class DoctorNotAtDepartment(InvalidInput):
    code = "doctor_not_at_department"
    message_en = "This doctor does not practise in that department of that hospital."
    message_zh = "该医生未在该医院的该科室执业。"


class UnknownDepartment(InvalidInput):
    code = "unknown_department"
    message_en = "Unknown department."
    message_zh = "未知科室。"


class InvalidDateRange(InvalidInput):
    code = "invalid_date_range"
    message_en = "The end date must not be before the start date, and the range at most {max_days} days."
    message_zh = "结束日期不能早于开始日期，且范围不超过 {max_days} 天。"


class NotYourDoctorRecord(Forbidden):
    code = "not_a_doctor"
    message_en = "Only a doctor linked to a registry record can do this."
    message_zh = "只有已关联执业记录的医生才能执行此操作。"


class PaymentRequired(Conflict):
    code = "payment_required"
    message_en = "This booking has a fee: it is confirmed by paying (去支付)."
    message_zh = "该预约需支付诊察费，支付后即确认预约。"
