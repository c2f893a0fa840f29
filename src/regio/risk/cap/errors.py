"""Refusals of CAP alerts: each names what was wrong, with the line where the parser saw it."""

from __future__ import annotations

from regio.core.errors import Conflict, DomainError, InvalidInput, PayloadTooLarge


class CapInvalid(InvalidInput):
    code = "cap_invalid"
    message_en = "This is not a valid CAP 1.2 alert; see the errors and their lines."
    message_zh = "这不是有效的 CAP 1.2 预警信息，请查看错误及其所在行。"


class CapHostile(DomainError):
    status = 400
    code = "cap_hostile"
    message_en = "The alert contains markup that is never accepted (a DTD or entity declaration): {reason}."
    message_zh = "预警信息含有不被接受的标记（DTD 或实体声明）：{reason}。"


class CapTooLarge(PayloadTooLarge):
    code = "cap_too_large"
    message_en = "The alert is larger than {limit} bytes."
    message_zh = "预警信息超过 {limit} 字节。"


class CapWrongContentType(DomainError):
    status = 415
    code = "cap_content_type"
    message_en = "Send the alert as application/cap+xml (or application/xml)."
    message_zh = "请以 application/cap+xml（或 application/xml）格式提交预警信息。"


class CapUnsupported(InvalidInput):
    code = "cap_unsupported"
    message_en = "This platform accepts Actual alerts of type Alert, Update or Cancel; got {what}."
    message_zh = "本平台只接受状态为 Actual、类型为 Alert、Update 或 Cancel 的预警信息；收到的是 {what}。"


class CapUnknownEventType(InvalidInput):
    code = "cap_unknown_event_type"
    message_en = (
        "The event {event!r} matches no type of the published list; name one in <eventCode> REGIO-EVENT-TYPE."
    )
    message_zh = "事件“{event}”不属于公布的类型列表，请在 <eventCode> REGIO-EVENT-TYPE 中注明类型。"


class CapNoScale(InvalidInput):
    code = "cap_no_scale"
    message_en = "The alert gives neither a known severity nor a warning level or grade."
    message_zh = "预警信息既没有已知的严重程度，也没有预警级别或事件分级。"


class CapNoOrigin(InvalidInput):
    code = "cap_no_origin"
    message_en = "Cannot tell which jurisdiction reports this alert; add a geocode REGIO-ORIGIN or ADCODE."
    message_zh = "无法确定报告该预警的行政区，请添加 REGIO-ORIGIN 或 ADCODE 地理编码。"


class CapUnknownReference(Conflict):
    code = "cap_unknown_reference"
    message_en = "The alert updates or cancels {reference}, which this platform never received."
    message_zh = "该预警信息要更新或撤销的 {reference} 在本平台不存在。"


class NotPublic(DomainError):
    status = 404
    code = "not_found"
    message_en = "Not found."
    message_zh = "未找到。"
