"""The booking pages: a patient books, confirms and cancels from a phone; doctors and admins see their views."""

from __future__ import annotations

import re

import httpx

from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.booking.conftest import MakePatients, MakeShift, World
from tests.factories import browser_login, csrf_from_html, make_user


async def test_a_patient_books_confirms_and_cancels_through_the_pages(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    make_shift: MakeShift,
    make_patients: MakePatients,
) -> None:
    shift = await make_shift(capacity=1)
    [person] = await make_patients(1)
    await browser_login(client, person.user.username)
    page = await client.get(
        "/booking", params={"department": "respiratory", "day": world.tomorrow.isoformat()}
    )
    assert page.status_code == 200
    assert "推荐时段" in page.text and f'data-slot-id="{shift.slots[0].id}"' in page.text
    csrf = csrf_from_html(page.text)
    no_token = await client.post(
        "/booking/book", data={"slot_id": shift.slots[0].id, "patient_id": person.patient_id}
    )
    assert no_token.status_code == 403
    booked = await client.post(
        "/booking/book",
        data={"slot_id": shift.slots[0].id, "patient_id": person.patient_id, "csrf_token": csrf},
    )
    assert booked.status_code == 303 and booked.headers["location"] == "/booking?notice=booked"
    mine = await client.get("/booking?notice=booked")
    assert 'data-status="held"' in mine.text and "已为您保留号源" in mine.text
    appointment_id = re.search(r'data-appointment-id="(\d+)"', mine.text).group(1)  # type: ignore[union-attr]
    confirmed = await client.post(
        f"/booking/appointments/{appointment_id}/confirm", data={"csrf_token": csrf}
    )
    assert confirmed.headers["location"] == "/booking?notice=confirmed"
    assert 'data-status="confirmed"' in (await client.get("/booking")).text
    again = await client.post(
        "/booking/book",
        data={"slot_id": shift.slots[0].id, "patient_id": person.patient_id, "csrf_token": csrf},
    )
    assert again.headers["location"] == "/booking?error=slot_full"
    assert "该时段号源已满" in (await client.get(again.headers["location"])).text
    cancelled = await client.post(f"/booking/appointments/{appointment_id}/cancel", data={"csrf_token": csrf})
    assert cancelled.headers["location"] == "/booking?notice=cancelled"
    assert 'data-status="cancelled"' in (await client.get("/booking")).text


async def test_the_doctor_sees_their_schedule_and_the_admin_the_roster_and_gaps(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, make_shift: MakeShift
) -> None:
    shift = await make_shift(capacity=2)
    await browser_login(client, world.doctor_user.username)
    page = await client.get("/booking/doctor")
    assert page.status_code == 200 and f'data-shift-id="{shift.id}"' in page.text
    client.cookies.clear()
    admin = await make_user(
        db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(world.hospital_id))]
    )
    await browser_login(client, admin.username)
    roster = await client.get("/booking/admin")
    assert roster.status_code == 200
    assert "覆盖缺口" in roster.text and 'class="gap"' in roster.text and 'class="shift"' in roster.text
