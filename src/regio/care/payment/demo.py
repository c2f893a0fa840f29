"""Demo data of payment: a price for every drug at the demo pharmacies (invented figures in a plausible
range) and the demo family's insurance — 张伟 an employee with a personal account, his mother a retired
employee with hypertension and diabetes registered as 门诊慢特病, his daughter in the resident scheme."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients import service as patients_service
from regio.care.payment import repository
from regio.care.prescription import catalog
from regio.care.prescription.models import Pharmacy
from regio.config import Settings
from regio.core.access import Principal
from regio.core.db import utcnow

# name → (scheme, chronic ICD-10 categories, personal account in fen); fictional like every demo person.
DEMO_ENROLMENTS: dict[str, tuple[str, list[str], int]] = {
    "张伟": ("employee", [], 186_000),
    "李秀英": ("employee", ["I10", "E11"], 92_000),
    "张小宝": ("resident", [], 0),
}


def demo_price(number: int) -> int:
    """A stable invented unit price of 5 to 65 yuan, so every demo pharmacy can sell every drug."""
    return 500 + (number * 977) % 6000


async def load_demo(
    *, session: AsyncSession, settings: Settings, patient: Principal, region_adcode: str
) -> None:
    """Loads once; running it again changes nothing that was there."""
    await session.commit()
    async with session.begin():
        pharmacies = (await session.scalars(select(Pharmacy.id))).all()
        drugs = [drug for drug in catalog.shipped_catalog() if not drug.controlled]
        for pharmacy_id in pharmacies:
            known = await repository.drug_prices(session, pharmacy_id, (d.code for d in drugs))
            for number, drug in enumerate(drugs):
                if drug.code not in known:
                    await repository.set_drug_price(session, pharmacy_id, drug.code, demo_price(number))
    bound = await patients_service.list_patients(session=session, settings=settings, principal=patient)
    async with session.begin():
        for item in bound:
            wanted = DEMO_ENROLMENTS.get(item.patient.name)
            if wanted is None or await repository.enrolment(session, item.patient.id) is not None:
                continue
            scheme, chronic, account = wanted
            await repository.save_enrolment(
                session,
                {
                    "patient_id": item.patient.id,
                    "region_adcode": region_adcode,
                    "scheme": scheme,
                    "chronic_diseases": chronic,
                    "personal_account_fen": account,
                    "updated_by_user_id": None,
                    "updated_at": utcnow(),
                },
            )
