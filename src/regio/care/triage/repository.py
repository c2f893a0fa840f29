"""Queries of triage; never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.triage.models import TriageAssessment


async def add_assessment(session: AsyncSession, values: dict[str, Any]) -> TriageAssessment:
    result = await session.execute(insert(TriageAssessment).values(**values).returning(TriageAssessment))
    return result.scalar_one()


async def get_assessment(session: AsyncSession, assessment_id: int) -> TriageAssessment | None:
    return (
        await session.execute(select(TriageAssessment).where(TriageAssessment.id == assessment_id))
    ).scalar_one_or_none()
