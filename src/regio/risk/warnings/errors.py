"""Refusals of the warnings subdomain, each with a stable code and both languages."""

from __future__ import annotations

from regio.core.errors import Conflict, InvalidInput, NotFound


class WarningNotFound(NotFound):
    code = "warning_not_found"
    message_en = "No such warning."
    message_zh = "未找到该预警。"


class AlreadyAcknowledged(Conflict):
    code = "already_acknowledged"
    message_en = "This warning was already acknowledged by {acknowledged_by} at {acknowledged_at_local}."
    message_zh = "该预警已由{acknowledged_by}于{acknowledged_at_local}确认。"


class WarningNotActive(Conflict):
    code = "warning_not_active"
    message_en = "This warning is {status} and can no longer be acknowledged."
    message_zh = "该预警已{status_zh}，无需再确认。"


class EventNotFound(NotFound):
    code = "risk_event_not_found"
    message_en = "No such risk report or event."
    message_zh = "未找到该风险报告或事件。"


class TaskNotFound(NotFound):
    code = "task_not_found"
    message_en = "No such task."
    message_zh = "未找到该任务。"


class TaskAlreadyDone(Conflict):
    code = "task_already_done"
    message_en = "This task was already completed."
    message_zh = "该任务已完成。"


class NotAParty(InvalidInput):
    code = "not_a_party"
    message_en = "{owner} is not on this event's responsibility list."
    message_zh = "{owner}不在该事件的责任清单中。"


class DeadlineOutOfRange(InvalidInput):
    code = "deadline_out_of_range"
    message_en = "A task's deadline must lie between now and 90 days ahead."
    message_zh = "任务期限须在现在至 90 天之内。"


class BadWebhookUrl(InvalidInput):
    code = "bad_webhook_url"
    message_en = "A webhook URL must be an http or https address."
    message_zh = "回调地址须为 http 或 https 地址。"
