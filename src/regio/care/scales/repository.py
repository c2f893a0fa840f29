"""Queries of scales; never commits.

Who is on duty is read from booking's shifts and the registry's doctor accounts, and hospital
admins from the role grants: booking offers no service call for "on duty now" yet, and these
are plain reads of earlier subdomains' tables (scales comes after booking on the journey).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking.enums import ShiftStatus
from regio.care.booking.models import Shift
from regio.care.registry.models import Doctor
from regio.care.scales.enums import OPEN_ALERT, AlertStatus
from regio.care.scales.models import ScaleAlert, ScaleAlertNotice, ScaleAlertRecipient, ScaleResponse
from regio.core.access import Role, ScopeKind
from regio.core.identity.models import RoleAssignment, User


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@dataclass(frozen=True, slots=True)
class OnDuty:
    user_id: int
    doctor_id: int
    hospital_id: int
    department_code: str


# ---- responses -----------------------------------------------------------------------------------------


async def add_response(session: AsyncSession, values: dict[str, Any]) -> ScaleResponse:
    result = await session.execute(insert(ScaleResponse).values(**values).returning(ScaleResponse))
    return result.scalar_one()


async def set_resource(session: AsyncSession, response_id: int, resource: dict[str, Any]) -> None:
    await session.execute(
        update(ScaleResponse).where(ScaleResponse.id == response_id).values(resource=resource)
    )


async def get_response(session: AsyncSession, response_id: int) -> ScaleResponse | None:
    return (
        await session.execute(select(ScaleResponse).where(ScaleResponse.id == response_id))
    ).scalar_one_or_none()


async def responses_of_patients(
    session: AsyncSession, patient_ids: Iterable[int], limit: int = 50
) -> list[ScaleResponse]:
    ids = list(patient_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(ScaleResponse)
        .where(ScaleResponse.patient_id.in_(ids))
        .order_by(ScaleResponse.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


# ---- who to tell ---------------------------------------------------------------------------------------


async def on_duty(
    session: AsyncSession,
    *,
    at: datetime,
    department_code: str | None = None,
    hospital_ids: Iterable[int] | None = None,
) -> list[OnDuty]:
    """Doctors with a linked account and a scheduled shift covering `at` (in a department / hospitals)."""
    query = (
        select(Doctor.user_id, Shift.doctor_id, Shift.hospital_id, Shift.department_code)
        .join(Doctor, Doctor.id == Shift.doctor_id)
        .join(User, User.id == Doctor.user_id)
        .where(
            Shift.status == ShiftStatus.scheduled.value,
            Shift.start_at <= at,
            Shift.end_at > at,
            Doctor.user_id.is_not(None),
            User.is_active.is_(True),
        )
        .order_by(Shift.hospital_id, Shift.doctor_id)
    )
    if department_code is not None:
        query = query.where(Shift.department_code == department_code)
    if hospital_ids is not None:
        query = query.where(Shift.hospital_id.in_(list(hospital_ids)))
    rows = await session.execute(query)
    seen: dict[int, OnDuty] = {}
    for user_id, doctor_id, hospital_id, department in rows.all():
        if user_id is None:  # excluded by the WHERE; narrows the type
            continue
        seen.setdefault(int(user_id), OnDuty(int(user_id), int(doctor_id), int(hospital_id), str(department)))
    return list(seen.values())


async def hospital_admins(session: AsyncSession, hospital_ids: Iterable[int]) -> list[tuple[int, int]]:
    """(user id, hospital id) of every active account holding hospital_admin in those hospitals."""
    scopes = [str(hospital_id) for hospital_id in hospital_ids]
    if not scopes:
        return []
    rows = await session.execute(
        select(RoleAssignment.user_id, RoleAssignment.scope_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.role == Role.hospital_admin.value,
            RoleAssignment.scope_kind == ScopeKind.hospital.value,
            RoleAssignment.scope_id.in_(scopes),
            User.is_active.is_(True),
        )
        .order_by(RoleAssignment.user_id)
    )
    return [
        (int(user_id), int(scope)) for user_id, scope in rows.all() if user_id is not None and scope.isdigit()
    ]


# ---- alerts --------------------------------------------------------------------------------------------


async def add_alert(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(insert(ScaleAlert).values(**values).returning(ScaleAlert.id))
    return int(result.scalar_one())


async def add_recipients(session: AsyncSession, alert_id: int, rows: list[dict[str, Any]]) -> list[int]:
    """Adds recipients not already on the alert; returns the user ids newly added."""
    added: list[int] = []
    for row in rows:
        result = await session.execute(
            _insert(session)(ScaleAlertRecipient)
            .values(alert_id=alert_id, **row)
            .on_conflict_do_nothing(index_elements=["alert_id", "user_id"])
            .returning(ScaleAlertRecipient.user_id)
        )
        if result.first() is not None:
            added.append(int(row["user_id"]))
    return added


async def recipients(session: AsyncSession, alert_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    ids = list(alert_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(ScaleAlertRecipient.alert_id, ScaleAlertRecipient.user_id).where(
            ScaleAlertRecipient.alert_id.in_(ids)
        )
    )
    found: dict[int, set[int]] = {alert_id: set() for alert_id in ids}
    for alert_id, user_id in rows.all():
        found[int(alert_id)].add(int(user_id))
    return {alert_id: frozenset(users) for alert_id, users in found.items()}


async def get_alert(session: AsyncSession, alert_id: int) -> ScaleAlert | None:
    return (await session.execute(select(ScaleAlert).where(ScaleAlert.id == alert_id))).scalar_one_or_none()


async def alert_of_response(session: AsyncSession, response_id: int) -> ScaleAlert | None:
    return (
        await session.execute(select(ScaleAlert).where(ScaleAlert.response_id == response_id))
    ).scalar_one_or_none()


async def alerts_for_user(
    session: AsyncSession, user_id: int, limit: int = 100
) -> list[tuple[ScaleAlert, ScaleResponse]]:
    rows = await session.execute(
        select(ScaleAlert, ScaleResponse)
        .join(ScaleAlertRecipient, ScaleAlertRecipient.alert_id == ScaleAlert.id)
        .join(ScaleResponse, ScaleResponse.id == ScaleAlert.response_id)
        .where(ScaleAlertRecipient.user_id == user_id)
        .order_by(ScaleAlert.id.desc())
        .limit(limit)
    )
    return [(alert, response) for alert, response in rows.all()]


async def acknowledge(session: AsyncSession, alert_id: int, *, user_id: int, now: datetime) -> bool:
    """Takes the alert on if it is still open: the UPDATE's own WHERE decides a race, so exactly one wins."""
    result = await session.execute(
        update(ScaleAlert)
        .where(ScaleAlert.id == alert_id, ScaleAlert.status.in_([s.value for s in OPEN_ALERT]))
        .values(status=AlertStatus.acknowledged.value, acknowledged_at=now, acknowledged_by_user_id=user_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def due_for_escalation(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    rows = await session.execute(
        select(ScaleAlert.id)
        .where(ScaleAlert.status == AlertStatus.raised.value, ScaleAlert.escalate_at <= now)
        .order_by(ScaleAlert.escalate_at, ScaleAlert.id)
        .limit(limit)
    )
    return [int(alert_id) for alert_id in rows.scalars()]


async def mark_escalated(session: AsyncSession, alert_id: int, *, now: datetime) -> bool:
    """Moves a still-raised alert to escalated; False when it was acknowledged (or escalated) meanwhile."""
    result = await session.execute(
        update(ScaleAlert)
        .where(ScaleAlert.id == alert_id, ScaleAlert.status == AlertStatus.raised.value)
        .values(status=AlertStatus.escalated.value, escalated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def hospitals_of_recipients(session: AsyncSession, alert_id: int) -> list[int]:
    rows = await session.execute(
        select(ScaleAlertRecipient.hospital_id)
        .where(ScaleAlertRecipient.alert_id == alert_id, ScaleAlertRecipient.hospital_id.is_not(None))
        .distinct()
    )
    return sorted(int(hospital_id) for hospital_id in rows.scalars() if hospital_id is not None)


# ---- notices (站内信) -----------------------------------------------------------------------------------


async def add_notice(session: AsyncSession, values: dict[str, Any]) -> bool:
    result = await session.execute(
        _insert(session)(ScaleAlertNotice)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["outbox_message_id"])
        .returning(ScaleAlertNotice.id)
    )
    return result.first() is not None


async def notices_of(session: AsyncSession, user_id: int, limit: int = 50) -> list[ScaleAlertNotice]:
    rows = await session.execute(
        select(ScaleAlertNotice)
        .where(ScaleAlertNotice.user_id == user_id)
        .order_by(ScaleAlertNotice.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())
