"""The screens lead into each other: a triage result into a prefilled quick question, a confirmed
booking into its consultation room, the room into the record, and none of it by typing an address."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from regio.care.consultation.enums import Status
from regio.care.consultation.models import QuickQuestion
from regio.care.triage import service as triage_service
from regio.care.triage.schemas import TriageIn
from regio.config import Settings
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import (
    MakePatients,
    confirmed_booking,
    open_consultation,
)
from tests.factories import browser_login, csrf_from_html, token_headers


def _selected(html: str, name: str) -> str | None:
    select_html = html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
    found = re.search(r'<option value="([^"]+)" selected>', select_html)
    return found.group(1) if found else None


async def test_the_quick_form_opened_from_a_triage_result_has_its_department_hospital_and_assessment(
    client: httpx.AsyncClient, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    page = await client.get(
        "/care/consultations/quick?department=respiratory&triage_id=41",
        headers=token_headers(settings, patient.user),
    )
    assert page.status_code == 200
    assert _selected(page.text, "department_code") == "respiratory"
    assert _selected(page.text, "hospital_id") == str(world.hospital_id)  # the one offering it
    assert 'name="triage_assessment_id" value="41"' in page.text

    plain = await client.get("/care/consultations/quick", headers=token_headers(settings, patient.user))
    assert 'name="triage_assessment_id"' not in plain.text
    assert _selected(plain.text, "department_code") is None


async def test_a_quick_question_carrying_a_go_to_emergency_triage_is_refused_with_the_reason(
    app: object, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    async with db.session() as session:
        danger = await triage_service.assess(
            session=session,
            principal=patient.principal,
            data=TriageIn(age_years=4, sex="female", temperature_c=36.8, fever_days=2, symptoms=["lethargy"]),
            language="zh-CN",
        )
    assert danger.go_offline
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        await browser_login(browser, patient.user.username)
        form = await browser.get(f"/care/consultations/quick?department=respiratory&triage_id={danger.id}")
        sent = await browser.post(
            "/care/consultations/quick",
            data={
                "csrf_token": csrf_from_html(form.text),
                "patient_id": patient.patient_id,
                "hospital_id": world.hospital_id,
                "department_code": "respiratory",
                "text": "孩子没精神",
                "triage_assessment_id": danger.id,
            },
        )
        assert sent.status_code == 303
        assert sent.headers["location"].endswith("?error=triage_go_offline")
        shown = await browser.get(sent.headers["location"])
        assert "请立即前往急诊" in shown.text
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(QuickQuestion)) == 0


async def test_my_bookings_open_the_room_of_a_confirmed_appointment(
    app: object, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    appointment_id = await confirmed_booking(db, settings, world, patient)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        await browser_login(browser, patient.user.username)
        bookings = await browser.get("/booking")
        card = bookings.text.split(f'data-appointment-id="{appointment_id}"', 1)[1].split(
            "</div>\n    </div>"
        )[0]
        assert 'action="/care/consultations/from-appointment"' in card and "进入诊室" in card
        opened = await browser.post(
            "/care/consultations/from-appointment",
            data={"csrf_token": csrf_from_html(bookings.text), "appointment_id": appointment_id},
        )
        assert opened.status_code == 303
        assert re.fullmatch(r"/care/consultations/\d+", opened.headers["location"])
        room = await browser.get(opened.headers["location"])
        assert room.status_code == 200 and 'data-side="patient"' in room.text


async def test_the_room_leads_the_doctor_to_the_record_editor_and_the_patient_to_the_records_when_done(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    patient, other = await make_patients(2)
    c = await open_consultation(db, settings, world, patient, status=Status.in_progress)
    doctor_view = await client.get(
        f"/care/consultations/{c.id}", headers=token_headers(settings, world.doctor_user)
    )
    assert f'href="/care/consultations/{c.id}/record"' in doctor_view.text
    patient_view = await client.get(
        f"/care/consultations/{c.id}", headers=token_headers(settings, patient.user)
    )
    assert "/record" not in patient_view.text.split('id="room-links"', 1)[1].split("</div>", 1)[0]
    assert 'id="to-my-records"' not in patient_view.text  # offered once the visit is over

    done = await open_consultation(db, settings, world, other, status=Status.completed)
    finished = await client.get(f"/care/consultations/{done.id}", headers=token_headers(settings, other.user))
    assert 'id="to-my-records"' in finished.text and 'href="/care/records"' in finished.text
