"""Refusals of risk reports, each with a stable code and Chinese and English messages."""

from __future__ import annotations

from regio.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, PreconditionFailed


class EventNotFound(NotFound):
    code = "event_not_found"
    message_en = "No such risk report."
    message_zh = "未找到该风险报告。"


class LevelAndGrade(InvalidInput):
    code = "level_and_grade"
    message_en = (
        "A risk takes a warning level 1–4 (red, orange, yellow, blue) and an event that has happened "
        "takes a grade I–IV; give exactly the one that fits the kind ({kind})."
    )
    message_zh = "风险报告填写预警级别 1–4（红、橙、黄、蓝），已发生的事件填写事件分级 I–IV；须且只能填写与类型（{kind}）相符的一项。"


class UnknownEventType(InvalidInput):
    code = "unknown_event_type"
    message_en = "Unknown event type {event_type}; choose one from the published list."
    message_zh = "未知的事件类型 {event_type}，请从公布的类型列表中选择。"


class CategoryMismatch(InvalidInput):
    code = "category_mismatch"
    message_en = "Event type {event_type} belongs to category {expected}, not {category}."
    message_zh = "事件类型 {event_type} 属于类别 {expected}，而不是 {category}。"


class NoArea(InvalidInput):
    code = "no_area"
    message_en = "Say where the hazard is: jurisdictions, a circle, a polygon or GeoJSON."
    message_zh = "请给出灾害范围：行政区、圆形区域、多边形或 GeoJSON。"


class AreaTooLarge(InvalidInput):
    code = "area_too_large"
    message_en = "The hazard area has too many parts or points ({count}); at most {limit}."
    message_zh = "灾害范围的组成部分或点数过多（{count}），最多 {limit}。"


class DetectedInFuture(InvalidInput):
    code = "detected_in_future"
    message_en = "The time detected lies in the future."
    message_zh = "发现时间晚于当前时间。"


class ExpiresBeforeDetected(InvalidInput):
    code = "expires_before_detected"
    message_en = "The expiry time must come after the time detected."
    message_zh = "失效时间须晚于发现时间。"


class OriginOutsideScope(InvalidInput):
    code = "invalid_origin"
    message_en = "The origin jurisdiction {level} {adcode} is not a known jurisdiction."
    message_zh = "发生地 {level} {adcode} 不是已知的行政区。"


class EventNotActive(Conflict):
    code = "event_not_active"
    message_en = "This report is no longer active ({status}); it cannot be changed."
    message_zh = "该报告已不再生效（{status}），不能再修改。"


class StaleVersion(PreconditionFailed):
    code = "stale_version"
    message_en = "Version {version} has been replaced by a newer one (id {current_id}); reload and try again."
    message_zh = "第 {version} 版已被更新的版本（编号 {current_id}）取代，请刷新后重试。"


class MergeIntoItself(InvalidInput):
    code = "merge_into_itself"
    message_en = "A report cannot be merged into itself."
    message_zh = "报告不能合并到其自身。"


class NotADuplicate(InvalidInput):
    code = "not_a_duplicate"
    message_en = "Only a report of the same type whose area and time overlap the other can be merged into it."
    message_zh = "只有类型相同且范围和时间重叠的报告才能合并。"


class IdentifierTaken(Conflict):
    code = "identifier_taken"
    message_en = "An alert with identifier {identifier} was already received (report {event_id})."
    message_zh = "标识为 {identifier} 的预警信息已接收过（报告编号 {event_id}）。"


class AttachmentTooLarge(PayloadTooLarge):
    code = "attachment_too_large"
    message_en = "The file is larger than {limit} bytes."
    message_zh = "文件超过 {limit} 字节。"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    message_en = "No such attachment."
    message_zh = "未找到该附件。"
