"""GET /api/care/coverage lists, by hospital, department and time, where no doctor is online."""

from __future__ import annotations

from datetime import time, timedelta

import httpx

from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.booking.conftest import MakeShift, World
from tests.factories import make_user, token_headers


async def test_coverage_lists_gaps_by_hospital_department_and_time(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, make_shift: MakeShift
) -> None:
    day = world.tomorrow
    await make_shift(department="respiratory", start=time(8), end=time(12), day=day)
    # the fever clinic is a 24-hour department: 00:00–20:00 leaves 20:00–24:00 uncovered
    await make_shift(department="fever_clinic", start=time(0), end=time(20), day=day)
    admin = await make_user(
        db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(world.hospital_id))]
    )
    answer = await client.get(
        "/api/care/coverage",
        params={"days": 2, "from": day.isoformat(), "hospital_id": world.hospital_id},
        headers=token_headers(settings, admin),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    gaps = {
        (g["department_code"], g["date"], g["start_local"][11:16], g["end_local"][11:16])
        for g in body["gaps"]
    }
    nextday = (day + timedelta(days=1)).isoformat()
    assert gaps == {
        ("pediatrics", day.isoformat(), "00:00", "00:00"),  # pediatrics is 24-hour too and has nobody
        ("fever_clinic", day.isoformat(), "20:00", "00:00"),
        ("respiratory", nextday, "00:00", "00:00"),
        ("pediatrics", nextday, "00:00", "00:00"),
        ("fever_clinic", nextday, "00:00", "00:00"),
    }
    assert body["hospitals"] == 1 and body["departments"] == 3


async def test_coverage_is_refused_to_patients_and_other_hospitals_admins(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World
) -> None:
    patient = await make_user(db, roles=[Role.patient])
    other = await make_user(
        db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(world.hospital_id + 1))]
    )
    for user in (patient, other):
        answer = await client.get(
            "/api/care/coverage",
            params={"hospital_id": world.hospital_id},
            headers=token_headers(settings, user),
        )
        assert answer.status_code in (403, 404), answer.text
    bad = await client.get("/api/care/coverage", params={"days": 0}, headers=token_headers(settings, patient))
    assert bad.status_code == 422
