"""Refusals of the consultation subdomain, each with a stable code and both languages."""

from __future__ import annotations

from regio.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, PayloadTooLarge


class ConsultationNotFound(NotFound):
    code = "consultation_not_found"
    message_en = "No such consultation."
    message_zh = "未找到该问诊。"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    message_en = "A consultation that is {current} cannot become {requested}."
    message_zh = "问诊当前状态为「{current}」，不能变为「{requested}」。"


class ConsultationClosed(Conflict):
    code = "consultation_closed"
    message_en = "This consultation has ended; no more messages or calls."
    message_zh = "本次问诊已结束，不能再发送消息或通话。"


class NotYourConsultation(Forbidden):
    code = "not_your_consultation"
    message_en = "Only the patient (or family bound to them) and the doctor of this consultation may do this."
    message_zh = "只有本次问诊的患者（或已绑定的家人）和接诊医生可以这样做。"


class AppointmentNotConfirmed(Conflict):
    code = "appointment_not_confirmed"
    message_en = "Only a confirmed booking can be opened as a consultation."
    message_zh = "只有已确认的预约才能开始问诊。"


class QuestionNotFound(NotFound):
    code = "quick_question_not_found"
    message_en = "No such quick question."
    message_zh = "未找到该极速提问。"


class QuestionTaken(Conflict):
    code = "quick_question_taken"
    message_en = "Another doctor has already accepted this question."
    message_zh = "该问题已被其他医生接诊。"


class QuestionClosed(Conflict):
    code = "quick_question_closed"
    message_en = "This question is no longer open."
    message_zh = "该问题已关闭。"


class NotOnDuty(Forbidden):
    code = "not_on_duty"
    message_en = "Only a doctor on duty online in this department now may accept this question."
    message_zh = "只有当前在该科室线上值班的医生可以接诊此问题。"


class NotADoctor(Forbidden):
    code = "not_a_doctor"
    message_en = "This needs a doctor's account linked to a registered doctor."
    message_zh = "此操作需要已关联执业医师档案的医生账号。"


class DepartmentNotOffered(InvalidInput):
    code = "department_not_offered"
    message_en = "This hospital does not offer that department online."
    message_zh = "该医院未开设此线上科室。"


class HospitalNotListed(NotFound):
    code = "hospital_not_listed"
    message_en = "No approved internet hospital with this id."
    message_zh = "未找到该互联网医院或其执业许可已失效。"


class EmptyMessage(InvalidInput):
    code = "empty_message"
    message_en = "A message needs some text (at most {max_chars} characters)."
    message_zh = "消息内容不能为空（最多 {max_chars} 字）。"


class AttachmentTooLarge(PayloadTooLarge):
    code = "attachment_too_large"
    message_en = "The file is larger than {max_bytes} bytes."
    message_zh = "文件超过 {max_bytes} 字节的上限。"


class UnsupportedAttachment(DomainError):
    status = 415
    code = "unsupported_attachment"
    message_en = "Only PNG, JPEG or WebP images and PDF documents can be sent (checked by their content)."
    message_zh = "只能发送 PNG、JPEG、WebP 图片或 PDF 文件（按文件内容识别）。"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    message_en = "No such attachment."
    message_zh = "未找到该附件。"


class CallNotAllowed(Conflict):
    code = "call_not_allowed"
    message_en = "A {mode} call needs a consultation in progress of that mode."
    message_zh = "只有进行中的{mode}问诊才能发起通话。"


class CallInProgress(Conflict):
    code = "call_in_progress"
    message_en = "A call is already going on in this consultation."
    message_zh = "本次问诊已有进行中的通话。"


class NoOpenCall(Conflict):
    code = "no_open_call"
    message_en = "There is no call to answer or end."
    message_zh = "当前没有可接听或结束的通话。"


class RetentionNotElapsed(Forbidden):
    code = "retention_not_elapsed"
    message_en = (
        "Consultation chat is kept at least 3 years (until {keep_until}); it cannot be deleted before."
    )
    message_zh = "问诊聊天记录至少保存 3 年（至 {keep_until}），期满前不得删除。"


class BlobUnavailable(DomainError):
    status = 503
    code = "blob_store_unavailable"
    message_en = "The file store cannot be reached; please try again."
    message_zh = "文件存储暂时无法访问，请稍后重试。"
