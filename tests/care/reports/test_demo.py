"""The demo pushes a blood count with one high value and a chest X-ray per patient, once."""

from __future__ import annotations

from typing import Any

from regio.care.reports import demo, service
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.records.conftest import PatientUser
from tests.care.reports.conftest import stored_counts


async def test_the_demo_loads_two_reports_per_patient_and_loading_again_adds_nothing(
    db: Database, settings: Any, world: World, patient: PatientUser
) -> None:
    for _ in range(2):
        async with db.session() as session:
            await demo.load_demo(
                session=session,
                settings=settings,
                patient_ids=[patient.patient_id],
                hospital_id=world.hospital_id,
            )
    assert await stored_counts(db) == (2, 2, len(demo.BLOOD_COUNT))
    async with db.session() as session:
        listed = await service.my_reports(session=session, principal=patient.principal)
    assert [(item.kind.value, item.out_of_range) for item in listed] == [("imaging", 0), ("lab", 1)]
