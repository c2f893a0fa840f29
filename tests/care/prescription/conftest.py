"""Fixtures for prescription tests: the shipped catalog loaded, a prescribable consultation (a hypertension
follow-up with a hospital record of the diagnosis), a pharmacist, a pharmacy with stock, a signing key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from regio.care.prescription import service, signing
from regio.care.prescription.models import Pharmacy, Stock
from regio.care.prescription.schemas import KeyIn, LineIn, PrescriptionIn
from regio.care.records import service as records_service
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.booking.conftest import World, build_world
from tests.care.records.conftest import (
    MakeConsultation,
    PatientUser,
    add_hospital_record,
    consultation_for,
    patient_for,
)
from tests.factories import make_user, principal_for

PIN = "246813"
AMLODIPINE = "amlodipine"


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


@pytest.fixture
async def patient(db: Database, settings: Settings) -> PatientUser:
    return await patient_for(db, settings)


@pytest.fixture
def make_consultation(db: Database, world: World) -> MakeConsultation:
    async def make(patient: PatientUser, **kwargs: object) -> int:
        return await consultation_for(db, world, patient, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(autouse=True)
def quick_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys sealed with a light scrypt in tests: the PIN logic is the same, each key opens in ~1 ms."""
    original = signing.new_key

    def light(pin: str, *, owner: str, scrypt_n: int | None = None, pepper: bytes = b"") -> signing.SealedKey:
        return original(pin, owner=owner, scrypt_n=scrypt_n or 2**10, pepper=pepper)

    monkeypatch.setattr(signing, "new_key", light)


@pytest.fixture
async def catalog(db: Database) -> dict[str, str]:
    """The shipped catalog in the database; returns a few codes by English name for the tests."""
    await service.ensure_catalog(db)
    by_name: dict[str, str] = {}
    from regio.care.prescription.catalog import shipped_catalog

    for drug in shipped_catalog():
        by_name.setdefault(drug.name_en.lower(), drug.code)
    return by_name


@dataclass
class Setting:
    world: World
    patient: PatientUser
    consultation_id: int
    pharmacist: Principal
    pharmacy_id: int
    catalog: dict[str, str]


async def diagnosed_consultation(
    db: Database, world: World, patient: PatientUser, make_consultation: MakeConsultation, code: str = "I10"
) -> int:
    await add_hospital_record(db, world, patient.patient_id, code)
    consultation_id = await make_consultation(patient)
    async with db.session() as session:
        await records_service.add_diagnosis(
            session=session, principal=world.doctor, consultation_id=consultation_id, code=code
        )
    return consultation_id


@pytest.fixture
async def setting(
    db: Database,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    catalog: dict[str, str],
    settings: Settings,
) -> Setting:
    consultation_id = await diagnosed_consultation(db, world, patient, make_consultation)
    grant = RoleGrant(Role.pharmacist, ScopeKind.hospital, str(world.hospital_id))
    user = await make_user(db, roles=[grant])
    async with db.session() as session, session.begin():
        pharmacy = Pharmacy(
            name="测试医院药房",
            kind="hospital",
            hospital_id=world.hospital_id,
            region_adcode="330000",
            address="杭州市测试路 1 号",
            phone="0571-00000000",
            delivers=True,
            cold_chain=False,
        )
        session.add(pharmacy)
        await session.flush()
        for code in catalog.values():
            session.add(Stock(pharmacy_id=pharmacy.id, drug_code=code, quantity=50))
        pharmacy_id = pharmacy.id
    async with db.session() as session:
        await service.create_key(
            session=session, principal=world.doctor, data=KeyIn(pin=PIN), settings=settings
        )
    return Setting(
        world=world,
        patient=patient,
        consultation_id=consultation_id,
        pharmacist=principal_for(user, [grant]),
        pharmacy_id=pharmacy_id,
        catalog=catalog,
    )


def amlodipine_line(setting: Setting, **changes: object) -> LineIn:
    values: dict[str, object] = {
        "drug_code": setting.catalog[AMLODIPINE],
        "dose": 5,
        "dose_unit": "mg",
        "route": "po",
        "frequency": "qd",
        "days": 7,
        "quantity": 1,
    }
    values.update(changes)
    return LineIn(**values)  # type: ignore[arg-type]


MakeDraft = Callable[..., Awaitable[int]]


@pytest.fixture
def make_draft(db: Database, setting: Setting) -> MakeDraft:
    async def make(*lines: LineIn, kind: str = "ordinary") -> int:
        async with db.session() as session:
            view = await service.create(
                session=session,
                principal=setting.world.doctor,
                consultation_id=setting.consultation_id,
                data=PrescriptionIn(kind=kind, lines=list(lines) or [amlodipine_line(setting)]),  # type: ignore[arg-type]
            )
        return view.id

    return make


async def mark_paid(db: Database, prescription_id: int) -> None:
    """What payment does once the drugs are paid for (the payment subdomain's tests pay for real)."""
    async with db.session() as session, session.begin():
        assert await service.mark_paid(session, prescription_id=prescription_id)
