"""JSON read side of the audit trail: `GET /api/audit/entries`, platform-wide oversight only; itself audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from regio.core import audit
from regio.core.deps import MAX_ID, CurrentPrincipal, SessionDep

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_user_id: int | None
    actor_client_id: int | None
    actor_username: str
    roles: list[str]
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]
    ip: str
    user_agent: str
    request_id: str
    seq: int | None = Field(description="Position in the hash chain; null until the sealer has sealed it.")
    entry_hash: str | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_before_id: int | None = Field(
        description="Pass as `before_id` for the next (older) page; null on the last page."
    )


@router.get("/entries", response_model=AuditPage)
async def list_audit_entries(
    session: SessionDep,
    principal: CurrentPrincipal,
    object_type: str | None = Query(default=None, max_length=60),
    object_id: str | None = Query(default=None, max_length=100),
    actor_user_id: int | None = Query(default=None, ge=1, le=MAX_ID),
    actor_username: str | None = Query(default=None, max_length=150),
    action: str | None = Query(default=None, max_length=100),
    before_id: int | None = Query(
        default=None, ge=1, le=MAX_ID, description="Only entries older than this id."
    ),
    limit: int = Query(default=50, ge=1, le=200),
) -> AuditPage:
    """Audit entries, newest first, filtered by object, actor or action."""
    entries = await audit.list_entries(
        session=session,
        principal=principal,
        object_type=object_type,
        object_id=object_id,
        actor_user_id=actor_user_id,
        actor_username=actor_username,
        action=action,
        before_id=before_id,
        limit=limit,
    )
    items = [AuditEntryOut.model_validate(entry) for entry in entries]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)
