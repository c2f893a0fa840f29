"""The pages: a patient asks a quick question on a phone-sized page, the doctor accepts it on the
workbench and both reach the room; English via the language switch; forms need the CSRF token."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from regio.care.consultation.enums import Status
from regio.care.consultation.models import Consultation
from regio.config import Settings
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import MakePatients, add_doctor, on_duty_now, open_consultation
from tests.factories import browser_login, csrf_from_html


async def test_a_quick_question_goes_from_the_patients_form_to_the_doctors_workbench_and_room(
    app: object, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    doctor = await add_doctor(db, world.hospital_id)
    await on_duty_now(db, world, doctor.doctor_id)
    [patient] = await make_patients(1)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as as_patient:
        await browser_login(as_patient, patient.user.username)
        form = await as_patient.get("/care/consultations/quick")
        assert form.status_code == 200 and "极速提问" in form.text and 'id="quick-form"' in form.text
        fields = {
            "patient_id": patient.patient_id,
            "hospital_id": world.hospital_id,
            "department_code": "respiratory",
            "text": "孩子发烧38.5度",
            "mode": "text",
            "urgency": "soon",
        }
        refused = await as_patient.post("/care/consultations/quick", data=fields)
        assert refused.status_code == 403  # no CSRF token
        sent = await as_patient.post(
            "/care/consultations/quick", data={**fields, "csrf_token": csrf_from_html(form.text)}
        )
        assert sent.status_code == 303 and sent.headers["location"] == "/care/consultations?notice=asked"
        listing = await as_patient.get("/care/consultations")
        assert "孩子发烧38.5度" in listing.text and "等待医生接诊" in listing.text

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as as_doctor:
        await browser_login(as_doctor, doctor.user.username)
        bench = await as_doctor.get("/care/consultations/workbench")
        assert bench.status_code == 200 and "孩子发烧38.5度" in bench.text
        accept_path = bench.text.split('action="/care/consultations/workbench/accept/')[1].split('"')[0]
        accepted = await as_doctor.post(
            f"/care/consultations/workbench/accept/{accept_path}",
            data={"csrf_token": csrf_from_html(bench.text)},
        )
        assert accepted.status_code == 303
        room = await as_doctor.get(accepted.headers["location"])
        assert (
            room.status_code == 200
            and 'data-side="doctor"' in room.text
            and "/static/consultation/room.js" in room.text
        )
        english = await as_doctor.get(accepted.headers["location"] + "?lang=en")
        assert "Consultation room" in english.text and "Complete" in english.text


async def test_the_waiting_room_shows_the_queue_position_and_the_doctor_starts_from_the_page(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient)
    await browser_login(client, patient.user.username)
    room = await client.get(f"/care/consultations/{c.id}")
    assert 'id="queue"' in room.text and "预计等待" in room.text
    assert 'id="start"' not in room.text  # only the doctor starts
    await client.post("/logout", data={"csrf_token": csrf_from_html(room.text)})
    await browser_login(client, world.doctor_user.username)
    doctor_room = await client.get(f"/care/consultations/{c.id}")
    started = await client.post(
        f"/care/consultations/{c.id}/move/start", data={"csrf_token": csrf_from_html(doctor_room.text)}
    )
    assert started.status_code == 303
    async with db.session() as session:
        assert (
            await session.scalar(select(Consultation.status).where(Consultation.id == c.id))
        ) == Status.in_progress


async def test_a_stranger_gets_no_room_and_a_visitor_is_sent_to_sign_in(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    patient, stranger = await make_patients(2)
    c = await open_consultation(db, settings, world, patient)
    visitor = await client.get(f"/care/consultations/{c.id}", headers={"Accept": "text/html"})
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/login")
    await browser_login(client, stranger.user.username)
    refused = await client.get(f"/care/consultations/{c.id}", headers={"Accept": "text/html"})
    assert refused.status_code == 404 and "未找到该问诊" in refused.text
