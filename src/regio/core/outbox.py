"""Transactional outbox (interface; being built)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


def enqueue(
    session: AsyncSession, topic: str, payload: dict[str, Any], *, target_url: str | None = None
) -> None:
    """Writes a message in the caller's transaction; a worker delivers it after commit."""
