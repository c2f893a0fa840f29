"""What the prescription flow refuses, and why: PIN guessing in parallel, self-review, drafts shown to
others, prescriptions of another hospital, tampering found at the counter, couriers reporting on other
couriers' parcels, and a delivery that failed before it left the pharmacy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from regio.care.prescription import errors, service
from regio.care.prescription.catalog import shipped_catalog
from regio.care.prescription.couriers import MemoryCourier, event_body
from regio.care.prescription.models import Prescription, Stock
from regio.care.prescription.schemas import FulfilmentIn, PrescriptionIn
from regio.config import Settings
from regio.core import webhooks
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.errors import DomainError
from tests.care.prescription.conftest import MakeDraft, Setting, amlodipine_line, mark_paid
from tests.care.prescription.test_delivery import approved, deliver_to_door
from tests.care.prescription.test_flow import sign_as_doctor
from tests.factories import make_user, principal_for


async def test_thirty_wrong_pins_at_once_get_at_most_five_tries(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()

    async def guess(n: int) -> DomainError | None:
        try:
            await sign_as_doctor(db, setting, settings, prescription_id, pin=f"97{n:04d}")
        except DomainError as exc:
            return exc
        return None

    results = await asyncio.gather(*(guess(n) for n in range(30)))
    wrong = [r for r in results if isinstance(r, errors.SigningPinWrong)]
    locked = [r for r in results if isinstance(r, errors.SigningLocked)]
    assert len(wrong) <= 4 and len(wrong) + len(locked) == 30
    with pytest.raises(errors.SigningLocked):
        await sign_as_doctor(db, setting, settings, prescription_id)


async def test_a_controlled_drug_cannot_be_signed_whatever_the_reason_given(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    narcotic = next(d for d in shipped_catalog() if d.control.value == "narcotic" and d.dose_unit == "mg")
    prescription_id = await make_draft(amlodipine_line(setting, drug_code=narcotic.code, dose=5, days=3))
    async with db.session() as session:
        draft = await service.get(
            session=session, principal=setting.world.doctor, prescription_id=prescription_id
        )
    reasons = {f.key: "试图覆盖" for f in draft.findings}
    with pytest.raises(errors.PrescriptionBlocked) as blocked:
        await sign_as_doctor(db, setting, settings, prescription_id, overrides=reasons)
    assert any(f["check"] == "controlled_drug" for f in blocked.value.details["findings"])


async def test_another_doctor_of_the_hospital_does_not_prescribe_in_someone_elses_consultation(
    db: Database, setting: Setting
) -> None:
    from tests.care.registry.helpers import make_doctor

    other_id = await make_doctor(db, setting.world.hospital_id, department_codes=["respiratory"])
    grant = RoleGrant(Role.doctor, ScopeKind.hospital, str(setting.world.hospital_id))
    user = await make_user(db, roles=[grant])
    from regio.care.registry import service as registry_service

    async with db.session() as session:
        await registry_service.link_doctor_user(
            session=session, principal=registry_service.SYSTEM, doctor_id=other_id, user_id=user.id
        )
    with pytest.raises(errors.NotTheAttendingDoctor):
        async with db.session() as session:
            await service.create(
                session=session,
                principal=principal_for(user, [grant]),
                consultation_id=setting.consultation_id,
                data=PrescriptionIn(lines=[amlodipine_line(setting)]),
            )


async def test_drafts_are_the_doctors_own_until_signed(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    for outsider in (setting.patient.principal, setting.pharmacist):
        with pytest.raises(errors.PrescriptionNotFound):
            async with db.session() as session:
                await service.get(session=session, principal=outsider, prescription_id=prescription_id)
    await sign_as_doctor(db, setting, settings, prescription_id)
    async with db.session() as session:
        seen = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert seen.status == "submitted"


async def test_a_pharmacist_does_not_review_their_own_prescription(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    both = [
        RoleGrant(Role.doctor, ScopeKind.hospital, str(setting.world.hospital_id)),
        RoleGrant(Role.pharmacist, ScopeKind.hospital, str(setting.world.hospital_id)),
    ]
    doctor_and_pharmacist = principal_for(setting.world.doctor_user, both)
    with pytest.raises(errors.OwnPrescription):
        async with db.session() as session:
            await service.claim(
                session=session, principal=doctor_and_pharmacist, prescription_id=prescription_id
            )


async def test_tampering_after_approval_is_caught_at_the_counter(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    async with db.session() as session:
        chosen = await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
            courier=MemoryCourier(),
        )
    await mark_paid(db, prescription_id)
    async with db.session() as session:
        code = (
            await service.get(
                session=session, principal=setting.patient.principal, prescription_id=prescription_id
            )
        ).fulfilment
    assert chosen.fulfilment is not None and code is not None and code.pickup_code is not None
    async with db.session() as session, session.begin():
        row = await session.get(Prescription, prescription_id)
        assert row is not None
        lines = [dict(line, days=3) for line in row.lines]
        await session.execute(
            update(Prescription).where(Prescription.id == prescription_id).values(lines=lines)
        )
    with pytest.raises(errors.SignatureInvalid):
        async with db.session() as session:
            await service.pickup(
                session=session,
                principal=setting.pharmacist,
                pharmacy_id=setting.pharmacy_id,
                code=code.pickup_code,
            )


async def test_reads_and_signatures_are_on_the_audit_trail(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    async with db.session() as session:
        actions = set(
            (
                await session.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.object_type == "prescription", AuditEntry.object_id == str(prescription_id)
                    )
                )
            ).all()
        )
    assert {"prescription.drafted", "prescription.read", "prescription.signed"} <= actions


async def test_a_courier_reports_only_on_its_own_parcels_and_only_recent_events(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    tracking = await deliver_to_door(db, setting, prescription_id, MemoryCourier())

    async def post(courier: str, when: datetime, event_id: str) -> httpx.Response:
        body = event_body(event_id=event_id, tracking_id=tracking, status="accepted", occurred_at=when)
        headers = {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=settings.webhook_secret)}
        return await client.post(f"/api/care/couriers/{courier}/events", content=body, headers=headers)

    other = await post("sf-express", datetime.now(UTC), "o1")
    assert other.status_code == 404 and other.json()["error"]["code"] == "unknown_shipment"
    future = await post("memory", datetime.now(UTC) + timedelta(days=2), "o2")
    assert future.status_code == 422 and future.json()["error"]["code"] == "bad_courier_event"
    ancient = await post("memory", datetime(1, 1, 2, tzinfo=UTC), "o3")
    assert ancient.status_code == 422


async def test_a_delivery_that_failed_before_pick_up_puts_the_stock_back_and_can_be_chosen_again(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await approved(db, setting, settings, make_draft)
    code = setting.catalog["amlodipine"]

    async def shelf() -> int:
        async with db.session() as session:
            found = await session.scalar(
                select(Stock.quantity).where(
                    Stock.pharmacy_id == setting.pharmacy_id, Stock.drug_code == code
                )
            )
        return int(found or 0)

    before = await shelf()
    tracking = await deliver_to_door(db, setting, prescription_id, MemoryCourier())
    assert await shelf() == before - 1
    body = event_body(event_id="f1", tracking_id=tracking, status="failed", occurred_at=datetime.now(UTC))
    headers = {webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=settings.webhook_secret)}
    answer = await client.post("/api/care/couriers/memory/events", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["applied"] is True
    assert await shelf() == before
    async with db.session() as session:
        again = await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
            courier=MemoryCourier(),
        )
    assert again.fulfilment is not None and again.fulfilment.method == "pickup"
    assert again.fulfilment.pickup_code is not None  # paid already, so the code shows at once
