"""Liveness and readiness: is the process up, and does the database answer."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from regio import __version__
from regio.core.deps import DatabaseDep, Public

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[Public])
async def healthz(database: DatabaseDep) -> dict[str, str]:
    async with database.session() as session:
        await session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": database.engine.dialect.name}
