"""The platform demo makes every journey walkable at any hour, and loading it again adds nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from regio import demo
from regio.care.booking.models import RosterTemplate, Shift, Slot
from regio.care.consultation import repository as consultation_repository
from regio.care.registry.models import Doctor
from regio.care.scales import repository as scales_repository
from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.core.identity.models import User
from regio.risk.events.models import RiskEvent
from regio.risk.warnings.models import RiskWarning

COUNTED = (User, RosterTemplate, Shift, Slot, RiskEvent, RiskWarning)


async def _counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in COUNTED
        }


async def test_the_demo_staffs_fever_clinic_and_psychiatry_now_reports_a_risk_and_loads_only_once(
    db: Database, settings: Settings
) -> None:
    async with db.session() as session:
        users = await demo.load(session=session, settings=settings)
    assert "doctor dr_li regio-demo-2026" in demo.login_lines(users)
    first = await _counts(db)

    now = utcnow()
    async with db.session() as session:
        chen = await session.scalar(select(User.id).where(User.username == "dr_chen"))
        li = await session.scalar(select(User.id).where(User.username == "dr_li"))
        chen_doctor = await session.scalar(select(Doctor).where(Doctor.user_id == chen))
        assert chen_doctor is not None
        fever_now = await consultation_repository.doctors_on_duty(
            session, department_code="fever_clinic", now=now, hospital_id=None, region_adcode="330000"
        )
        psychiatry_now = await scales_repository.on_duty(session, at=now, department_code="psychiatry")
        event = (await session.scalars(select(RiskEvent))).one()
        warned = set(
            await session.scalars(select(RiskWarning.recipient_code).where(RiskWarning.event_id == event.id))
        )
    assert chen_doctor.id in fever_now  # a quick question finds him whatever the hour
    assert li in {duty.user_id for duty in psychiatry_now}  # an urgent PHQ-9 reaches a psychiatrist
    assert (event.origin_adcode, event.warning_level, event.event_type) == ("330100", 3, "rainstorm")
    assert any(code.endswith("330500") for code in warned)  # Huzhou's dashboard is not empty

    async with db.session() as session:
        again = await demo.load(session=session, settings=settings)
    assert again == users
    assert await _counts(db) == first
