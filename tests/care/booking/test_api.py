"""The booking JSON API: 201 or 409 slot_full, idempotent retries, stable error codes, no partial writes."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from regio.care.booking.models import Appointment, Slot
from regio.config import Settings
from regio.core.db import Database
from tests.care.booking.conftest import MakePatients, MakeShift, World
from tests.care.registry.helpers import hospital_admin
from tests.factories import make_user, token_headers

URL = "/api/care/appointments"


async def counts(db: Database, slot_id: int) -> tuple[int, int]:
    async with db.session() as session:
        slot = await session.get(Slot, slot_id)
        rows = await session.scalar(select(func.count()).select_from(Appointment))
    assert slot is not None
    return slot.booked, int(rows or 0)


async def test_booking_answers_201_then_409_slot_full_in_both_languages(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=1)
    first, second = await make_patients(2)
    slot_id = shift.slots[0].id
    ok = await client.post(
        URL,
        json={"slot_id": slot_id, "patient_id": first.patient_id},
        headers=token_headers(settings, first.user),
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "held"
    full = await client.post(
        URL,
        json={"slot_id": slot_id, "patient_id": second.patient_id},
        headers=token_headers(settings, second.user),
    )
    assert full.status_code == 409
    error = full.json()["error"]
    assert error["code"] == "slot_full" and error["message_zh"] == "该时段号源已满。"
    assert error["message_en"] == "This time slot is fully booked."
    assert await counts(db, slot_id) == (1, 1)


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer_and_books_nothing_more(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=5)
    [person] = await make_patients(1)
    headers = {**token_headers(settings, person.user), "Idempotency-Key": "book-42"}
    body = {"slot_id": shift.slots[0].id, "patient_id": person.patient_id}
    first = await client.post(URL, json=body, headers=headers)
    again = await client.post(URL, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await counts(db, shift.slots[0].id) == (1, 1)
    reused = await client.post(URL, json={**body, "slot_id": shift.slots[1].id}, headers=headers)
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
    assert await counts(db, shift.slots[1].id) == (0, 1)


async def test_concurrent_retries_with_one_key_book_once(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=5)
    [person] = await make_patients(1)
    headers = {**token_headers(settings, person.user), "Idempotency-Key": "tap-tap-tap"}
    body = {"slot_id": shift.slots[0].id, "patient_id": person.patient_id}
    answers = await asyncio.gather(*(client.post(URL, json=body, headers=headers) for _ in range(10)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await counts(db, shift.slots[0].id) == (1, 1)


async def test_a_slot_full_answer_is_replayed_for_the_same_key(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=1)
    first, second = await make_patients(2)
    slot_id = shift.slots[0].id
    held = await client.post(
        URL,
        json={"slot_id": slot_id, "patient_id": first.patient_id},
        headers=token_headers(settings, first.user),
    )
    headers = {**token_headers(settings, second.user), "Idempotency-Key": "second-try"}
    body = {"slot_id": slot_id, "patient_id": second.patient_id}
    assert (await client.post(URL, json=body, headers=headers)).status_code == 409
    cancel = await client.post(
        f"{URL}/{held.json()['id']}/cancel", headers=token_headers(settings, first.user)
    )
    assert cancel.status_code == 200, cancel.text
    again = await client.post(URL, json=body, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "slot_full"
    fresh = await client.post(URL, json=body, headers={**headers, "Idempotency-Key": "third-try"})
    assert fresh.status_code == 201


async def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=1)
    [person] = await make_patients(1)
    headers = token_headers(settings, person.user)
    slot_id = shift.slots[0].id
    cases = [
        ({"slot_id": slot_id}, 422, "validation_error"),
        ({"slot_id": 0, "patient_id": person.patient_id}, 422, "validation_error"),
        ({"slot_id": 2**63, "patient_id": person.patient_id}, 422, "validation_error"),
        ({"slot_id": 999_999, "patient_id": person.patient_id}, 404, "slot_not_found"),
        ({"slot_id": slot_id, "patient_id": person.patient_id, "mode": "fax"}, 422, "invalid_mode"),
        ({"slot_id": slot_id, "patient_id": person.patient_id + 1000}, 403, "not_bound_to_patient"),
    ]
    for body, status, code in cases:
        answer = await client.post(URL, json=body, headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    bad_key = await client.post(
        URL,
        json={"slot_id": slot_id, "patient_id": person.patient_id},
        headers={**headers, "Idempotency-Key": "has space"},
    )
    assert bad_key.status_code == 422
    assert await counts(db, slot_id) == (0, 0)


async def test_unauthenticated_requests_get_401(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/care/slots"), ("POST", URL), ("GET", "/api/care/coverage")):
        answer = await client.request(method, path, json={})
        assert answer.status_code == 401, path


async def test_slots_filter_and_show_remaining_places(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=2, modes=["video"])
    await make_shift(capacity=2, department="fever_clinic", modes=["text"])
    [person] = await make_patients(1)
    headers = token_headers(settings, person.user)
    await client.post(
        URL, json={"slot_id": shift.slots[0].id, "patient_id": person.patient_id}, headers=headers
    )
    found = await client.get(
        "/api/care/slots",
        params={
            "department": "呼吸内科",
            "date": world.tomorrow.isoformat(),
            "mode": "video",
            "city": "330100",
        },
        headers=headers,
    )
    assert found.status_code == 200, found.text
    slots = found.json()
    assert {s["department_code"] for s in slots} == {"respiratory"}
    assert slots[0]["remaining"] == 1 and slots[1]["remaining"] == 2
    assert slots[0]["start_local"] == "08:00" and slots[0]["start_at"].startswith(
        f"{world.tomorrow.isoformat()}T00:00"
    )
    unknown = await client.get("/api/care/slots", params={"department": "占星科"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_department"


async def test_admins_build_shifts_and_materialise_templates_idempotently(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World
) -> None:
    admin = await make_user(db, roles=[next(iter(hospital_admin(world.hospital_id).grants))])
    headers = token_headers(settings, admin)
    template = {
        "hospital_id": world.hospital_id,
        "department_code": "respiratory",
        "doctor_id": world.doctor_id,
        "weekday": world.tomorrow.weekday(),
        "start_time": "14:00",
        "end_time": "17:00",
        "modes": ["text", "voice"],
        "slot_minutes": 20,
        "capacity_per_slot": 3,
        "fee_fen": 1500,
    }
    created = await client.post("/api/care/rosters/templates", json=template, headers=headers)
    assert created.status_code == 201, created.text
    run = await client.post(
        "/api/care/rosters/materialise", json={"hospital_id": world.hospital_id, "days": 14}, headers=headers
    )
    assert run.status_code == 200, run.text
    assert run.json() == {"shifts_created": 2, "slots_created": 18}
    rerun = await client.post(
        "/api/care/rosters/materialise", json={"hospital_id": world.hospital_id, "days": 14}, headers=headers
    )
    assert rerun.json() == {"shifts_created": 0, "slots_created": 0}
    bad = await client.post(
        "/api/care/rosters/templates", json={**template, "modes": ["fax"]}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_mode"
    short = await client.post(
        "/api/care/rosters/templates", json={**template, "end_time": "14:10"}, headers=headers
    )
    assert short.status_code == 422 and short.json()["error"]["code"] == "invalid_time_window"
    wrong_department = await client.post(
        "/api/care/rosters/templates", json={**template, "department_code": "pediatrics"}, headers=headers
    )
    assert wrong_department.json()["error"]["code"] == "doctor_not_at_department"


async def test_a_triage_with_danger_signs_refuses_online_booking_and_books_nothing(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=3)
    [person] = await make_patients(1)
    headers = token_headers(settings, person.user)
    danger = {"age_years": 40, "sex": "male", "symptoms": ["chest_pain"], "patient_id": person.patient_id}
    assessed = await client.post("/api/care/triage", json=danger, headers=headers)
    assert assessed.status_code == 201, assessed.text
    assert assessed.json()["go_offline"] is True
    slot_id = shift.slots[0].id
    refused = await client.post(
        URL,
        json={
            "slot_id": slot_id,
            "patient_id": person.patient_id,
            "triage_assessment_id": assessed.json()["id"],
        },
        headers=headers,
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "triage_go_offline"
    assert await counts(db, slot_id) == (0, 0)


async def test_a_triage_without_danger_signs_lets_the_booking_through(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=3)
    [person] = await make_patients(1)
    headers = token_headers(settings, person.user)
    mild = {"age_years": 40, "sex": "male", "symptoms": ["cough"], "patient_id": person.patient_id}
    assessed = await client.post("/api/care/triage", json=mild, headers=headers)
    assert assessed.status_code == 201 and assessed.json()["go_offline"] is False
    slot_id = shift.slots[0].id
    booked = await client.post(
        URL,
        json={
            "slot_id": slot_id,
            "patient_id": person.patient_id,
            "triage_assessment_id": assessed.json()["id"],
        },
        headers=headers,
    )
    assert booked.status_code == 201, booked.text
    assert await counts(db, slot_id) == (1, 1)


async def test_someone_elses_triage_cannot_be_brought_to_a_booking(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=3)
    owner, other = await make_patients(2)
    assessed = await client.post(
        "/api/care/triage",
        json={"age_years": 40, "sex": "male", "symptoms": ["cough"], "patient_id": owner.patient_id},
        headers=token_headers(settings, owner.user),
    )
    assert assessed.status_code == 201
    slot_id = shift.slots[0].id
    refused = await client.post(
        URL,
        json={
            "slot_id": slot_id,
            "patient_id": other.patient_id,
            "triage_assessment_id": assessed.json()["id"],
        },
        headers=token_headers(settings, other.user),
    )
    assert refused.status_code == 404, refused.text
    assert await counts(db, slot_id) == (0, 0)
