"""Reading one's own quick questions (health complaints in the patient's words) leaves an audit entry,
as the doctor's list of offered questions already did."""

from __future__ import annotations

from sqlalchemy import select

from regio.care.consultation import service
from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import (  # noqa: F401 (fixtures used by name)
    MakePatients,
    add_doctor,
    make_patients,
    on_duty_now,
    world,
)
from tests.care.consultation.test_quick_questions import ask


async def test_listing_my_quick_questions_is_audited_with_the_questions_and_patients_read(
    db: Database,
    world: World,  # noqa: F811
    make_patients: MakePatients,  # noqa: F811
) -> None:
    doctor = await add_doctor(db, world.hospital_id)
    await on_duty_now(db, world, doctor.doctor_id)
    [patient] = await make_patients(1)
    question = await ask(db, patient, world.hospital_id)

    async with db.session() as session:
        mine = await service.my_questions(session=session, principal=patient.principal)

    assert [q.id for q in mine] == [question.id]
    async with db.session() as session:
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "quick_question.list_own")))
            .scalars()
            .all()
        )
    assert len(entries) == 1
    assert entries[0].actor_user_id == patient.user.id
    assert entries[0].details["quick_question_ids"] == [question.id]
    assert entries[0].details["patient_ids"] == [patient.patient_id]


async def test_an_empty_list_of_my_quick_questions_writes_nothing(
    db: Database,
    make_patients: MakePatients,  # noqa: F811
) -> None:
    [patient] = await make_patients(1)
    async with db.session() as session:
        assert await service.my_questions(session=session, principal=patient.principal) == []
    async with db.session() as session:
        found = await session.execute(
            select(AuditEntry).where(AuditEntry.action == "quick_question.list_own")
        )
        assert found.scalars().all() == []
