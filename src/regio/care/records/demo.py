"""Demo data of clinical records: prior offline diagnoses from the demo hospital for 张伟's family,
so that an online follow-up (hypertension, diabetes, allergic rhinitis) can be diagnosed in the demo."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients import service as patients_service
from regio.care.records import service
from regio.care.records.enums import PriorSource
from regio.care.records.schemas import PriorIn
from regio.config import Settings
from regio.core.access import Principal

# name → (ICD-10 code, date of the offline diagnosis); fictional, like every demo person.
DEMO_PRIORS: dict[str, list[tuple[str, date]]] = {
    "李秀英": [("I10", date(2019, 4, 12)), ("E11.9", date(2021, 10, 8))],
    "张伟": [("J30.4", date(2023, 3, 20))],
    "张小宝": [("J45.0", date(2025, 9, 1))],
}


async def load_demo(
    *,
    session: AsyncSession,
    settings: Settings,
    patient: Principal,
    hospital_id: int,
    hospital_name: str = "",
) -> None:
    """Adds the hospital's offline diagnoses for the demo family once; running it again adds nothing."""
    bound = await patients_service.list_patients(session=session, settings=settings, principal=patient)
    for item in bound:
        wanted = DEMO_PRIORS.get(item.patient.name, [])
        if not wanted:
            continue
        existing = await service.list_priors(session=session, principal=patient, patient_id=item.patient.id)
        if existing:
            continue
        for code, on in wanted:
            await service.add_prior(
                session=session,
                principal=service.SYSTEM,
                data=PriorIn(
                    patient_id=item.patient.id,
                    icd10_code=code,
                    diagnosed_on=on,
                    hospital_name=hospital_name or "演示医院门诊",
                    hospital_id=hospital_id,
                    source=PriorSource.hospital_record,
                ),
            )
