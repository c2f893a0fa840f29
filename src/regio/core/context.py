"""Facts about the current request (where it came from) that the audit trail records."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str = ""
    ip: str = ""
    user_agent: str = ""
    language: str = "zh-CN"


current_request: ContextVar[RequestContext] = ContextVar("regio_request", default=RequestContext())  # noqa: B039 (frozen)
