"""The demo's people doing the set-up steps of a browser journey over the JSON API, so each test drives
only the screens it is about."""

from __future__ import annotations

from typing import Any

import httpx

from regio.demo import DEMO_PASSWORD


def token(base: str, username: str) -> dict[str, str]:
    answer = httpx.post(
        f"{base}/api/auth/token", json={"username": username, "password": DEMO_PASSWORD}, timeout=30
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def held_booking(base: str) -> int:
    """张伟 holds a slot of dr_chen for his mother 李秀英 (hypertension on the demo hospital's records)."""
    patient, doctor = token(base, "zhangwei"), token(base, "dr_chen")
    family = httpx.get(f"{base}/api/care/patients", headers=patient, timeout=30).json()["items"]
    mother = next(item["patient"]["id"] for item in family if item["patient"]["name"] == "李秀英")
    schedule = httpx.get(f"{base}/api/care/doctor/schedule", headers=doctor, timeout=30).json()
    # the latest days first: other browser tests book the nearer ones
    slots = [
        slot for shift in reversed(schedule["shifts"]) for slot in shift["slots"] if slot["remaining"] > 0
    ]
    for slot in slots:
        booked = httpx.post(
            f"{base}/api/care/appointments",
            json={"slot_id": slot["id"], "patient_id": mother},
            headers=patient,
            timeout=30,
        )
        if booked.status_code == 201:
            assert booked.json()["status"] == "held"
            return int(booked.json()["id"])
    raise AssertionError("no bookable slot of dr_chen in the demo")


def start_consultation(base: str, appointment: int) -> int:
    """The patient opens the booked consultation and dr_chen starts it."""
    patient, doctor = token(base, "zhangwei"), token(base, "dr_chen")
    opened = httpx.post(
        f"{base}/api/care/consultations", json={"appointment_id": appointment}, headers=patient, timeout=30
    )
    assert opened.status_code in (200, 201), opened.text
    consultation = int(opened.json()["id"])
    started = httpx.post(f"{base}/api/care/consultations/{consultation}/start", headers=doctor, timeout=30)
    assert started.status_code == 200, started.text
    return consultation


def consultation_in_progress(base: str) -> int:
    """A held booking confirmed without paying (the live server allows it) and started by dr_chen."""
    appointment = held_booking(base)
    confirmed = httpx.post(
        f"{base}/api/care/appointments/{appointment}/confirm", headers=token(base, "zhangwei"), timeout=30
    )
    assert confirmed.status_code == 200, confirmed.text
    return start_consultation(base, appointment)


async def login(page: Any, base: str, username: str) -> None:
    await page.context.clear_cookies()
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_load_state()
