"""The prescription journey over the service: draft → sign with the doctor's PIN → one pharmacist claims
and approves → the patient picks a pharmacy → the pickup code dispenses once. And the refusals on the way."""

from __future__ import annotations

import asyncio

import pytest

from regio.care.prescription import errors, service
from regio.care.prescription.schemas import FulfilmentIn, PrescriptionIn, PrescriptionOut
from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from regio.core.errors import DomainError
from tests.care.prescription.conftest import PIN, MakeDraft, Setting, amlodipine_line
from tests.factories import make_user, principal_for


async def sign_as_doctor(
    db: Database, setting: Setting, settings: Settings, prescription_id: int, **kwargs: object
) -> PrescriptionOut:
    async with db.session() as session:
        current = await service.get(
            session=session, principal=setting.world.doctor, prescription_id=prescription_id
        )
    async with db.session() as session:
        return await service.sign(
            session=session,
            principal=setting.world.doctor,
            prescription_id=prescription_id,
            pin=str(kwargs.get("pin", PIN)),
            revision=current.revision,
            overrides=kwargs.get("overrides", {}),  # type: ignore[arg-type]
            settings=settings,
        )


async def approve(db: Database, setting: Setting, prescription_id: int) -> PrescriptionOut:
    async with db.session() as session:
        await service.claim(session=session, principal=setting.pharmacist, prescription_id=prescription_id)
    async with db.session() as session:
        return await service.approve(
            session=session, principal=setting.pharmacist, prescription_id=prescription_id
        )


async def test_a_signed_prescription_is_reviewed_approved_and_picked_up_once(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    signed = await sign_as_doctor(db, setting, settings, prescription_id)
    assert signed.status == "submitted" and signed.fhir_status == "on-hold"
    assert signed.signature_valid is True and signed.fingerprint

    async with db.session() as session:
        queue = await service.review_queue(session=session, principal=setting.pharmacist)
    assert [item.id for item in queue] == [prescription_id]

    async with db.session() as session:
        await service.claim(session=session, principal=setting.pharmacist, prescription_id=prescription_id)
    async with db.session() as session:
        approved = await service.approve(
            session=session, principal=setting.pharmacist, prescription_id=prescription_id
        )
    assert approved.status == "approved" and approved.fhir_status == "active"

    async with db.session() as session:
        chosen = await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
            courier=None,  # type: ignore[arg-type]
        )
    assert chosen.fulfilment is not None and chosen.fulfilment.pickup_code is None  # shown once paid
    from tests.care.prescription.conftest import mark_paid

    async with db.session() as session:
        patient_view = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert patient_view.fulfilment is not None and patient_view.fulfilment.pickup_code is None
    with pytest.raises(errors.PaymentRequired):
        async with db.session() as session:
            await service.pickup(
                session=session,
                principal=setting.pharmacist,
                pharmacy_id=setting.pharmacy_id,
                code=await _pickup_code(db, prescription_id),
            )
    await mark_paid(db, prescription_id)
    async with db.session() as session:
        patient_view = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert patient_view.fulfilment is not None
    code = patient_view.fulfilment.pickup_code
    assert code is not None and len(code) == 8

    async with db.session() as session:
        done = await service.pickup(
            session=session, principal=setting.pharmacist, pharmacy_id=setting.pharmacy_id, code=code
        )
    assert done.status == "dispensed" and done.dispense is not None
    with pytest.raises(errors.PickupCodeInvalid):
        async with db.session() as session:
            await service.pickup(
                session=session, principal=setting.pharmacist, pharmacy_id=setting.pharmacy_id, code=code
            )


async def test_nothing_can_be_collected_before_the_pharmacist_approves(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    with pytest.raises(errors.NotApproved):
        async with db.session() as session:
            await service.choose_fulfilment(
                session=session,
                principal=setting.patient.principal,
                prescription_id=prescription_id,
                data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
                courier=None,  # type: ignore[arg-type]
            )


async def test_a_wrong_pin_signs_nothing_and_five_lock_signing(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    for attempt in range(4):
        with pytest.raises(errors.SigningPinWrong) as refused:
            await sign_as_doctor(db, setting, settings, prescription_id, pin="999111")
        assert refused.value.details["attempts_left"] == 4 - attempt
    with pytest.raises(errors.SigningLocked):
        await sign_as_doctor(db, setting, settings, prescription_id, pin="999111")
    with pytest.raises(errors.SigningLocked):
        await sign_as_doctor(
            db, setting, settings, prescription_id
        )  # even the right PIN, until the lock ends
    async with db.session() as session:
        view = await service.get(
            session=session, principal=setting.world.doctor, prescription_id=prescription_id
        )
    assert view.status == "draft" and view.signature_valid is None


async def test_a_change_after_signing_breaks_the_signature_and_blocks_approval(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    from sqlalchemy import update

    from regio.care.prescription.models import Prescription

    prescription_id = await make_draft()
    signed = await sign_as_doctor(db, setting, settings, prescription_id)
    tampered = [dict(line, days=6) for line in (await _lines(db, prescription_id))]
    async with db.session() as session, session.begin():
        await session.execute(
            update(Prescription).where(Prescription.id == prescription_id).values(lines=tampered)
        )
    async with db.session() as session:
        view = await service.get(
            session=session, principal=setting.pharmacist, prescription_id=prescription_id
        )
    assert signed.signature_valid is True and view.signature_valid is False
    async with db.session() as session:
        await service.claim(session=session, principal=setting.pharmacist, prescription_id=prescription_id)
    with pytest.raises(errors.SignatureInvalid):
        async with db.session() as session:
            await service.approve(
                session=session, principal=setting.pharmacist, prescription_id=prescription_id
            )


async def _pickup_code(db: Database, prescription_id: int) -> str:
    from sqlalchemy import select

    from regio.care.prescription.models import Fulfilment

    async with db.session() as session:
        code = await session.scalar(
            select(Fulfilment.pickup_code).where(Fulfilment.prescription_id == prescription_id)
        )
    assert code is not None
    return code


async def _lines(db: Database, prescription_id: int) -> list[dict[str, object]]:
    from regio.care.prescription.models import Prescription

    async with db.session() as session:
        row = await session.get(Prescription, prescription_id)
        assert row is not None
        return list(row.lines)


async def test_twenty_pharmacists_claiming_at_once_give_one_reviewer(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    grant = RoleGrant(Role.pharmacist, ScopeKind.hospital, str(setting.world.hospital_id))
    pharmacists = [principal_for(await make_user(db, roles=[grant]), [grant]) for _ in range(20)]

    async def claim(principal: object) -> object:
        async with db.session() as session:
            try:
                return await service.claim(
                    session=session, principal=principal, prescription_id=prescription_id
                )  # type: ignore[arg-type]
            except DomainError as exc:
                return exc

    results = await asyncio.gather(*(claim(p) for p in pharmacists))
    winners = [r for r in results if not isinstance(r, DomainError)]
    assert len(winners) == 1
    assert all(isinstance(r, errors.ReviewClaimed) for r in results if isinstance(r, DomainError))


async def test_a_controlled_drug_or_too_many_days_cannot_be_signed(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft(amlodipine_line(setting, days=10))
    with pytest.raises(errors.PrescriptionBlocked) as blocked:
        await sign_as_doctor(db, setting, settings, prescription_id)
    assert any(f["check"] == "quantity" for f in blocked.value.details["findings"])


async def test_only_the_attending_doctor_prescribes(
    db: Database, setting: Setting, make_draft: MakeDraft
) -> None:
    with pytest.raises(errors.NotTheAttendingDoctor):
        async with db.session() as session:
            await service.create(
                session=session,
                principal=setting.pharmacist,
                consultation_id=setting.consultation_id,
                data=PrescriptionIn(lines=[amlodipine_line(setting)]),
            )


async def test_a_child_under_six_needs_a_guardian_and_a_specialist_recorded_first(
    db: Database, setting: Setting, settings: Settings, make_consultation: object
) -> None:
    from datetime import date, timedelta

    from tests.care.prescription.conftest import diagnosed_consultation
    from tests.care.records.conftest import patient_for

    child = await patient_for(
        db, settings, born=date.today() - timedelta(days=3 * 365), child_of=setting.patient
    )
    consultation_id = await diagnosed_consultation(db, setting.world, child, make_consultation, code="J45.0")  # type: ignore[arg-type]
    with pytest.raises(errors.PrescribingNotAllowed) as refused:
        async with db.session() as session:
            await service.create(
                session=session,
                principal=setting.world.doctor,
                consultation_id=consultation_id,
                data=PrescriptionIn(lines=[amlodipine_line(setting)]),
            )
    assert {"guardian_absent", "specialist_absent"} <= set(refused.value.details["codes"])


async def test_a_major_finding_is_signed_only_with_a_reason_which_the_pharmacist_sees(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    # 20 mg of amlodipine a day is above its labelled maximum of 10 mg: a major finding
    prescription_id = await make_draft(amlodipine_line(setting, dose=20))
    with pytest.raises(errors.OverrideReasonRequired) as refused:
        await sign_as_doctor(db, setting, settings, prescription_id)
    [key] = refused.value.details["missing"]
    assert key.startswith("max_daily_dose")
    signed = await sign_as_doctor(db, setting, settings, prescription_id, overrides={key: "专科会诊后加量"})
    assert signed.status == "submitted" and signed.overrides == {key: "专科会诊后加量"}
    async with db.session() as session:
        seen = await service.get(
            session=session, principal=setting.pharmacist, prescription_id=prescription_id
        )
    assert seen.overrides[key] == "专科会诊后加量" and seen.signature_valid is True


async def test_a_returned_prescription_is_changed_and_signed_again(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    async with db.session() as session:
        await service.claim(session=session, principal=setting.pharmacist, prescription_id=prescription_id)
    async with db.session() as session:
        returned = await service.send_back(
            session=session,
            principal=setting.pharmacist,
            prescription_id=prescription_id,
            reason="请注明服药时间",
        )
    assert returned.status == "returned" and returned.review_note == "请注明服药时间"
    async with db.session() as session:
        changed = await service.update(
            session=session,
            principal=setting.world.doctor,
            prescription_id=prescription_id,
            data=PrescriptionIn(
                lines=[amlodipine_line(setting, instructions="早餐后服")], revision=returned.revision
            ),
        )
    assert changed.status == "draft" and changed.revision == returned.revision + 1
    again = await sign_as_doctor(db, setting, settings, prescription_id)
    assert again.status == "submitted" and again.signature_valid is True


async def test_an_edit_from_a_stale_revision_is_refused(
    db: Database, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    data = PrescriptionIn(lines=[amlodipine_line(setting, days=5)], revision=1)
    async with db.session() as session:
        await service.update(
            session=session, principal=setting.world.doctor, prescription_id=prescription_id, data=data
        )
    with pytest.raises(errors.PrescriptionChanged):
        async with db.session() as session:
            await service.update(
                session=session, principal=setting.world.doctor, prescription_id=prescription_id, data=data
            )


async def test_a_repeat_prescription_copies_an_approved_chronic_one_into_a_new_consultation(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft, make_consultation: object
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    await approve(db, setting, prescription_id)
    from tests.care.prescription.conftest import diagnosed_consultation

    later = await diagnosed_consultation(db, setting.world, setting.patient, make_consultation)  # type: ignore[arg-type]
    async with db.session() as session:
        repeat = await service.repeat(
            session=session,
            principal=setting.world.doctor,
            prescription_id=prescription_id,
            consultation_id=later,
        )
    assert repeat.repeat_of_id == prescription_id and repeat.status == "draft"
    assert [line.drug_code for line in repeat.lines] == [setting.catalog["amlodipine"]]


async def test_a_review_past_its_time_is_flagged_once(
    db: Database, setting: Setting, settings: Settings, make_draft: MakeDraft
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from regio.care.prescription.models import Prescription
    from regio.core.db import utcnow

    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    async with db.session() as session, session.begin():
        await session.execute(
            update(Prescription)
            .where(Prescription.id == prescription_id)
            .values(review_due_at=utcnow() - timedelta(minutes=1))
        )
    assert await service.flag_overdue(db=db, settings=settings) == 1
    assert await service.flag_overdue(db=db, settings=settings) == 0
    async with db.session() as session:
        [item] = await service.review_queue(session=session, principal=setting.pharmacist)
    assert item.overdue is True
