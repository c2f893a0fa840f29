"""The prescription pages: the doctor's prescribing screen, the pharmacist's queue, review screen and
pickup desk, and the patient's prescriptions, each for its role, and the API's refusals shown as pages."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
from sqlalchemy import update

from regio.care.prescription import service
from regio.care.prescription.models import Prescription
from regio.care.prescription.schemas import FulfilmentIn
from regio.config import Settings
from regio.core.access import Role
from regio.core.db import Database, utcnow
from regio.core.identity.models import User
from tests.care.booking.conftest import World
from tests.care.prescription.conftest import (
    PIN,
    MakeDraft,
    Setting,
    diagnosed_consultation,
    mark_paid,
)
from tests.care.records.conftest import MakeConsultation, PatientUser
from tests.factories import make_user, token_headers

HTML = {"Accept": "text/html"}


async def _headers(db: Database, settings: Settings, user_id: int | None) -> dict[str, str]:
    async with db.session() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return {**HTML, **token_headers(settings, user)}


async def _signed(db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft) -> int:
    prescription_id = await make_draft()
    async with db.session() as session:
        await service.sign(
            session=session,
            principal=setting.world.doctor,
            prescription_id=prescription_id,
            pin=PIN,
            revision=1,
            overrides={},
            settings=settings,
        )
    return prescription_id


async def _approved(db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft) -> int:
    prescription_id = await _signed(db, settings, setting, make_draft)
    async with db.session() as session:
        await service.claim(session=session, principal=setting.pharmacist, prescription_id=prescription_id)
    async with db.session() as session:
        await service.approve(session=session, principal=setting.pharmacist, prescription_id=prescription_id)
    return prescription_id


async def test_the_prescribing_screen_lists_the_drafts_and_offers_the_form(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    doctor = await _headers(db, settings, setting.world.doctor_user.id)
    page = f"/care/consultations/{setting.consultation_id}/prescribe"
    empty = await client.get(page, headers=doctor)
    assert empty.status_code == 200
    assert 'id="rx-form"' in empty.text and "检查并保存草稿" in empty.text and "签名并提交审方" in empty.text
    assert 'id="none-written"' in empty.text
    # the drug line's choices: routes and frequencies by code with their Chinese names
    assert '<option value="po">口服 (po)</option>' in empty.text and "qd 每日一次" in empty.text
    assert 'id="key-setup"' not in empty.text  # this doctor already has a signing key
    assert 'data-csrf="' in empty.text and "/static/prescription/prescribe.js" in empty.text

    draft = await make_draft()
    listed = await client.get(page, headers=doctor)
    item = re.search(rf'<li class="rx-item" data-prescription-id="{draft}" data-status="draft">', listed.text)
    assert item is not None and 'class="edit-rx"' in listed.text and "草稿" in listed.text
    # the draft travels to the script as JSON, so "继续修改" fills the form without another request
    embedded = listed.text.split('<script type="application/json" id="rx-drafts">', 1)[1].split("</script>")[
        0
    ]
    drafts = json.loads(embedded)
    assert [d["id"] for d in drafts] == [draft] and drafts[0]["lines"][0]["dose"] == 5

    english = await client.get(page + "?lang=en", headers=doctor)
    assert "Check and save draft" in english.text and "oral (po)" in english.text


async def test_a_doctor_without_a_signing_key_is_offered_to_set_a_pin_only_he_knows(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    catalog: dict[str, str],
) -> None:
    consultation_id = await diagnosed_consultation(db, world, patient, make_consultation)
    doctor = {**HTML, **token_headers(settings, world.doctor_user)}
    page = await client.get(f"/care/consultations/{consultation_id}/prescribe", headers=doctor)
    assert page.status_code == 200
    assert 'id="key-setup"' in page.text and "设置签名 PIN" in page.text
    assert "平台不保存它，也无法代您签名" in page.text


async def test_the_pharmacist_sees_the_queue_with_overdue_items_and_reviews_one(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await _signed(db, settings, setting, make_draft)
    pharmacist = await _headers(db, settings, setting.pharmacist.user_id)

    queue = await client.get("/care/pharmacy/review", headers=pharmacist)
    assert queue.status_code == 200 and "审方工作台" in queue.text
    row = queue.text.split(f'data-prescription-id="{prescription_id}"', 1)[1].split("</tr>", 1)[0]
    assert (
        "超时" not in row and "氨氯地平" in row and f'href="/care/pharmacy/review/{prescription_id}"' in row
    )

    async with db.session() as session, session.begin():
        await session.execute(
            update(Prescription)
            .where(Prescription.id == prescription_id)
            .values(review_due_at=utcnow() - timedelta(minutes=5))
        )
    late = await client.get("/care/pharmacy/review", headers=pharmacist)
    assert f'class="queue-item overdue" data-prescription-id="{prescription_id}"' in late.text
    assert "超时" in late.text

    review = await client.get(f"/care/pharmacy/review/{prescription_id}", headers=pharmacist)
    assert review.status_code == 200
    assert "签名有效" in review.text and 'id="claim"' in review.text and 'id="approve"' not in review.text
    assert 'id="rx-diagnoses">I10<' in review.text
    async with db.session() as session:
        await service.claim(session=session, principal=setting.pharmacist, prescription_id=prescription_id)
    claimed = await client.get(f"/care/pharmacy/review/{prescription_id}", headers=pharmacist)
    for button in ('id="approve"', 'id="reject"', 'id="return"', 'id="release"', 'id="review-reason"'):
        assert button in claimed.text
    assert 'id="claim"' not in claimed.text and "审方中" in claimed.text

    desk = await client.get(f"/care/pharmacy/pickup?pharmacy_id={setting.pharmacy_id}", headers=pharmacist)
    assert desk.status_code == 200
    assert (
        f'id="pharmacy-id" name="pharmacy_id" min="1" inputmode="numeric" required value="{setting.pharmacy_id}"'
        in desk.text
    )


async def test_a_patient_cannot_use_the_pharmacists_queue_and_a_stranger_sees_no_prescription(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await _signed(db, settings, setting, make_draft)
    patient = {**HTML, **token_headers(settings, setting.patient.user)}
    queue = await client.get("/care/pharmacy/review", headers=patient)
    assert queue.status_code == 403 and "只有开方医院的药师可以审核该处方" in queue.text
    assert f'data-prescription-id="{prescription_id}"' not in queue.text
    review = await client.get(f"/care/pharmacy/review/{prescription_id}", headers=patient)
    assert 'id="claim"' not in review.text  # the patient reads it, but there is nothing to act on

    stranger = await make_user(db, roles=[Role.patient])
    other = {**HTML, **token_headers(settings, stranger)}
    hidden = await client.get(f"/care/prescriptions/{prescription_id}", headers=other)
    assert hidden.status_code == 404 and f"未找到您可查看的处方 {prescription_id}" in hidden.text
    assert "氨氯地平" not in hidden.text
    assert (await client.get("/care/prescriptions", headers=other)).status_code == 200


async def test_the_patient_chooses_a_pharmacy_and_then_sees_the_pickup_code(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await _approved(db, settings, setting, make_draft)
    patient = {**HTML, **token_headers(settings, setting.patient.user)}

    mine = await client.get("/care/prescriptions", headers=patient)
    assert mine.status_code == 200
    assert f'data-prescription-id="{prescription_id}" data-status="approved"' in mine.text
    assert "审核通过" in mine.text and f'href="/care/prescriptions/{prescription_id}"' in mine.text

    detail = await client.get(f"/care/prescriptions/{prescription_id}", headers=patient)
    assert detail.status_code == 200
    assert 'id="fulfilment-form"' in detail.text and "有货" in detail.text and "到店自取" in detail.text
    assert f'data-pharmacy-id="{setting.pharmacy_id}" data-stock="1"' in detail.text
    assert "每次 5 mg，口服，每日一次，共 7 天" in detail.text  # how to take it, in words

    async with db.session() as session:
        chosen = await service.choose_fulfilment(
            session=session,
            principal=setting.patient.principal,
            prescription_id=prescription_id,
            data=FulfilmentIn(pharmacy_id=setting.pharmacy_id, method="pickup"),
            courier=None,  # type: ignore[arg-type]
        )
    assert chosen.fulfilment is not None and chosen.fulfilment.pickup_code is None  # not before payment
    unpaid = await client.get(f"/care/prescriptions/{prescription_id}", headers=patient)
    assert 'id="pickup-code"' not in unpaid.text
    await mark_paid(db, prescription_id)
    async with db.session() as session:
        chosen = await service.get(
            session=session, principal=setting.patient.principal, prescription_id=prescription_id
        )
    assert chosen.fulfilment is not None and chosen.fulfilment.pickup_code
    after = await client.get(f"/care/prescriptions/{prescription_id}", headers=patient)
    assert 'id="fulfilment-form"' not in after.text
    assert (
        '<p class="pickup-code" id="pickup-code"' in after.text
        and chosen.fulfilment.pickup_code in after.text
    )
    assert f'src="/api/care/prescriptions/{prescription_id}/pickup-code.svg"' in after.text

    # the doctor reads the same page but never the code: it is the patient's alone
    doctor = {**HTML, **token_headers(settings, setting.world.doctor_user)}
    seen = await client.get(f"/care/prescriptions/{prescription_id}", headers=doctor)
    assert seen.status_code == 200 and chosen.fulfilment.pickup_code not in seen.text


async def test_the_patients_home_page_has_the_prescriptions_tile(
    client: httpx.AsyncClient, settings: Settings, setting: Setting
) -> None:
    home = await client.get("/", headers={**HTML, **token_headers(settings, setting.patient.user)})
    assert 'href="/care/prescriptions"' in home.text and "我的处方" in home.text
