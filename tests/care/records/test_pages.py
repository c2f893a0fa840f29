"""The record editor and the patient's history as pages: forms with CSRF, refusals shown in Chinese."""

from __future__ import annotations

import httpx

from regio.core.access import Role
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.records.conftest import MakeConsultation, MakePatient, PatientUser, add_hospital_record
from tests.factories import browser_login, csrf_from_html, make_user

EDITOR = "/care/consultations/{}/record"


async def _form(client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    html = (await client.get(page)).text
    return await client.post(action, data={**data, "csrf_token": csrf_from_html(html)})


async def test_the_doctor_adds_a_follow_up_diagnosis_and_signs_through_the_editor(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
) -> None:
    await add_hospital_record(db, world, patient.patient_id, "I10")
    cid = await make_consultation(patient)
    await browser_login(client, world.doctor_user.username)
    page = EDITOR.format(cid)
    first = await client.get(page)
    assert first.status_code == 200
    assert "未书写" in first.text and "既往线下诊断" in first.text and "I10" in first.text

    added = await _form(client, page, page + "/diagnoses", {"code": "I10"})
    assert added.status_code == 303 and "notice=diagnosis_added" in added.headers["location"]
    shown = await client.get(added.headers["location"])
    assert "诊断已添加" in shown.text and "特发性（原发性）高血压" in shown.text and "复诊" in shown.text

    refused = await _form(client, page, page + "/diagnoses", {"code": "E11.9"})
    assert "error=follow_up_required" in refused.headers["location"]
    explained = await client.get(refused.headers["location"])
    assert "互联网诊疗管理办法" in explained.text and "E11" in explained.text

    saved = await _form(
        client, page, page + "/draft", {"notes": "血压 135/85", "advice": "继续服药", "symptoms": "headache"}
    )
    assert "notice=saved" in saved.headers["location"]
    signed = await _form(client, page, page + "/sign", {})
    assert "notice=signed" in signed.headers["location"]
    after = await client.get(page)
    assert "已签名" in after.text and 'id="sign"' not in after.text and "更正病历" in after.text
    english = await client.get(page + "?lang=en")
    assert "Signed record" in english.text


async def test_the_patient_side_sees_its_signed_records_and_nobody_else_does(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    make_patient: MakePatient,
    make_consultation: MakeConsultation,
) -> None:
    patient = await make_patient()
    cid = await make_consultation(patient)
    doctor = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # type: ignore[attr-defined]
    async with doctor:
        await browser_login(doctor, world.doctor_user.username)
        page = EDITOR.format(cid)
        await _form(doctor, page, page + "/draft", {"notes": "咽痛两天", "advice": "多饮水"})
        await _form(doctor, page, page + "/sign", {})
    await browser_login(client, patient.user.username)
    history = await client.get("/care/records")
    assert history.status_code == 200 and f'data-consultation-id="{cid}"' in history.text
    record = await client.get(f"/care/records/{cid}")
    assert record.status_code == 200 and "咽痛两天" in record.text and "多饮水" in record.text
    assert (await client.get(EDITOR.format(cid))).status_code == 403  # the editor is the doctor's

    stranger = await make_user(db, roles=[Role.patient])
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # type: ignore[attr-defined]
    async with other:
        await browser_login(other, stranger.username)
        assert (await other.get(f"/care/records/{cid}")).status_code == 404


async def test_a_form_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, world: World, patient: PatientUser, make_consultation: MakeConsultation
) -> None:
    cid = await make_consultation(patient)
    await browser_login(client, world.doctor_user.username)
    response = await client.post(EDITOR.format(cid) + "/sign", data={})
    assert response.status_code == 403


async def test_for_a_child_under_six_the_editor_records_who_is_present(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_patient: MakePatient,
    make_consultation: MakeConsultation,
) -> None:
    from tests.care.patients.idgen import years_ago

    child = await make_patient(born=years_ago(2), child_of=patient)
    cid = await make_consultation(child)
    await browser_login(client, world.doctor_user.username)
    page = EDITOR.format(cid)
    first = await client.get(page)
    assert 'id="under-six"' in first.text and 'id="attendance-card"' in first.text
    saved = await _form(
        client, page, page + "/attendance", {"guardian_present": "true", "specialist_name": ""}
    )
    assert "notice=attendance" in saved.headers["location"]
    after = await client.get(page)
    assert (
        'id="guardian-present" checked' in after.text and 'id="specialist-present" checked' not in after.text
    )
    assert 'data-code="specialist_absent"' in after.text and 'data-code="guardian_absent"' not in after.text
