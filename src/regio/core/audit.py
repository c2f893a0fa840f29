"""Hash-chained audit trail of every read and write of personal data (interface; being built)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.access import Principal


async def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    *,
    object_type: str,
    object_id: str | int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Appends one audit entry inside the caller's transaction (sealed into the chain later)."""
