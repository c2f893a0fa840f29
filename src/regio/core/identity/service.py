"""Identity services (placeholder until identity lands)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from regio.config import Settings
from regio.core.access import ANONYMOUS, Principal

SESSION_COOKIE = "regio_session"
CSRF_HEADER = "X-CSRF-Token"


async def authenticate_request(
    *,
    session: AsyncSession,
    settings: Settings,
    authorization: str | None,
    session_cookie: str | None,
    method: str,
    csrf_header: str | None,
) -> Principal:
    return ANONYMOUS
