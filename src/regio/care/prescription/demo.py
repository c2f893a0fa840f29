"""Demo data of prescriptions: the shipped drug catalog, a pharmacy at each demo hospital and two
designated retail pharmacies with stock, and the demo doctor's signing key (demo PIN below)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.prescription import catalog, service
from regio.care.prescription.models import Pharmacy, Stock
from regio.care.prescription.schemas import KeyIn
from regio.care.registry.models import Hospital
from regio.config import Settings
from regio.core.access import Principal

# The demo doctor's signing PIN. A real doctor chooses their own and the platform never learns it.
DEMO_SIGNING_PIN = "246813"

# Fictional retail pharmacies of the demo province; the second keeps 2–8 °C items and delivers them.
RETAIL = (
    ("民生大药房（演示·西湖店）", "杭州市西湖区文三路 100 号", "0571-88000001", False),
    ("百草堂连锁药店（演示·滨江店）", "杭州市滨江区江南大道 200 号", "0571-88000002", True),
)


async def _pharmacy(session: AsyncSession, **values: object) -> Pharmacy:
    found = await session.scalar(select(Pharmacy).where(Pharmacy.name == values["name"]))
    if found is not None:
        return found
    pharmacy = Pharmacy(**values)
    session.add(pharmacy)
    await session.flush()
    drugs = [drug for drug in catalog.shipped_catalog() if not drug.controlled]
    for number, drug in enumerate(drugs):
        # A retail shelf lacks some items, so the patient sees "有货" and "缺货" side by side.
        if values["kind"] == "retail" and number % 7 == 0:
            continue
        session.add(Stock(pharmacy_id=pharmacy.id, drug_code=drug.code, quantity=20 + (number * 37) % 180))
    return pharmacy


async def load_demo(
    *,
    session: AsyncSession,
    settings: Settings,
    hospital_ids: list[int],
    province_adcode: str,
    doctor: Principal,
) -> None:
    """Loads once; running it again changes nothing."""
    await session.commit()
    async with session.begin():
        for hospital_id in hospital_ids:
            hospital = await session.get(Hospital, hospital_id)
            if hospital is None:
                continue
            await _pharmacy(
                session,
                name=f"{hospital.name}药房",
                kind="hospital",
                hospital_id=hospital.id,
                region_adcode=hospital.region_adcode,
                address=hospital.address,
                phone="",
                delivers=True,
                cold_chain=True,
            )
        for name, address, phone, cold in RETAIL:
            await _pharmacy(
                session,
                name=name,
                kind="retail",
                hospital_id=None,
                region_adcode=province_adcode,
                address=address,
                phone=phone,
                delivers=True,
                cold_chain=cold,
            )
    status = await service.key_status(session=session, principal=doctor)
    if not status.has_key:
        await service.create_key(
            session=session, principal=doctor, data=KeyIn(pin=DEMO_SIGNING_PIN), settings=settings
        )
