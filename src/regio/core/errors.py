"""Every refusal the user can act on is a DomainError with a stable code and two languages."""

from __future__ import annotations

from typing import Any, ClassVar


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class DomainError(Exception):
    """A refusal the user caused and can act on; never a bug."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "domain_error"
    message_en: ClassVar[str] = "The request was refused."
    message_zh: ClassVar[str] = "请求被拒绝。"

    def __init__(self, **details: Any) -> None:
        super().__init__(self.code)
        self.details = details

    def message(self, language: str) -> str:
        template = self.message_zh if language.startswith("zh") else self.message_en
        return template.format_map(_SafeDict(self.details))

    def to_body(self, language: str) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message(language),
                "message_zh": self.message("zh"),
                "message_en": self.message("en"),
                "details": self.details,
            }
        }


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
    message_en = "Some of the data given is not valid."
    message_zh = "提交的数据有误。"


class ValidationFailed(InvalidInput):
    code = "validation_error"
    message_en = "Some fields are missing or not valid."
    message_zh = "部分字段缺失或格式不正确。"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    message_en = "Please sign in first."
    message_zh = "请先登录。"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    message_en = "You are not allowed to do this."
    message_zh = "您无权执行此操作。"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message_en = "Not found."
    message_zh = "未找到。"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message_en = "This conflicts with the current state."
    message_zh = "与当前状态冲突。"


class PreconditionFailed(DomainError):
    status = 412
    code = "stale_version"
    message_en = "Someone changed this in the meantime; reload and try again."
    message_zh = "数据已被他人修改，请刷新后重试。"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    message_en = "Too many attempts; please wait a moment."
    message_zh = "尝试次数过多，请稍后再试。"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    message_en = "The upload is too large."
    message_zh = "上传内容过大。"


class InvalidCharacters(InvalidInput):
    # PostgreSQL cannot store U+0000 in text; refused at the door for every route (core/guards.py).
    code = "invalid_characters"
    message_en = "The request contains a NUL character, which is not allowed in any field."
    message_zh = "请求中含有空字符（NUL），任何字段都不允许。"


class MalformedBody(DomainError):
    status = 400
    code = "malformed_body"
    message_en = "The request body could not be read; send well-formed UTF-8 JSON or form data."
    message_zh = "无法解析请求内容，请提交格式正确的 UTF-8 JSON 或表单数据。"
