"""Refusals of scale assessments, each with a stable code and a message in Chinese and English."""

from __future__ import annotations

from regio.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class UnknownScale(NotFound):
    code = "scale_unknown"
    message_en = "There is no scale {scale}; GET /api/care/scales lists them."
    message_zh = "没有量表“{scale}”；可用量表见 GET /api/care/scales。"


class WrongAnswerCount(InvalidInput):
    code = "scale_wrong_answer_count"
    message_en = "{scale} has {expected} items; {given} answers were given."
    message_zh = "{scale} 共 {expected} 题，提交了 {given} 个答案。"


class AnswerOutOfRange(InvalidInput):
    code = "scale_answer_out_of_range"
    message_en = "Answer {position} is {value}; each answer must be one of {allowed}."
    message_zh = "第 {position} 题的答案 {value} 无效，只能是 {allowed} 之一。"


class NoOwnPatientRecord(InvalidInput):
    code = "scale_no_patient_record"
    message_en = "Register yourself as a patient first, or choose a family member you may act for."
    message_zh = "请先登记本人就诊信息，或选择您可代为操作的家人。"


class ResponseNotFound(NotFound):
    code = "scale_response_not_found"
    message_en = "No such scale response for you."
    message_zh = "未找到您的这份量表测评。"


class AlertNotFound(NotFound):
    code = "scale_alert_not_found"
    message_en = "No such alert for you."
    message_zh = "未找到发给您的这条预警。"


class AlertAlreadyAcknowledged(Conflict):
    code = "scale_alert_already_acknowledged"
    message_en = "Another doctor has already taken this alert on."
    message_zh = "该预警已由其他医生接手。"


class NotADoctor(Forbidden):
    code = "scale_alert_doctors_only"
    message_en = "Only a doctor the alert was sent to may acknowledge it."
    message_zh = "只有收到该预警的医生可以确认接手。"
