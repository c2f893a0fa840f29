"""Fixtures for reports tests: a hospital with its system (an API client holding hospital_admin), a
patient cared for there, and builders of pushed FHIR DiagnosticReports."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regio.care.reports.models import Observation, Report, ReportVersion
from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.booking.conftest import World, build_world
from tests.care.records.conftest import PatientUser, consultation_for, patient_for
from tests.factories import client_headers, make_api_client

LAB = "/api/care/reports/lab"
IMAGING = "/api/care/reports/imaging"
UCUM = "http://unitsofmeasure.org"

Headers = dict[str, str]


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def hospital_system(client: httpx.AsyncClient, db: Database, hospital_id: int) -> Headers:
    """The Authorization header of a hospital's system: an API client with hospital_admin there."""
    client_id, secret = await make_api_client(
        db, grants=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(hospital_id))]
    )
    return await client_headers(client, client_id, secret)


@pytest.fixture
async def system_headers(client: httpx.AsyncClient, db: Database, world: World) -> Headers:
    return await hospital_system(client, db, world.hospital_id)


@pytest.fixture
async def patient(db: Database, settings: Settings, world: World) -> PatientUser:
    """A patient with a completed consultation at the world's hospital."""
    made = await patient_for(db, settings)
    await consultation_for(db, world, made, status="completed")
    return made


def quantity(value: Any, unit: str = "10*9/L") -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def lab_body(patient_id: int, *, identifier: str = "LIS-0001", wbc: Any = 11.2) -> dict[str, Any]:
    """A blood count with contained Observations: WBC (high at 11.2), haemoglobin, a text result."""
    return {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": "urn:hospital:lis", "value": identifier}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}], "text": "血常规"},
        "subject": {"identifier": {"value": str(patient_id)}},
        "effectiveDateTime": "2026-11-20T08:10:00+08:00",
        "issued": "2026-11-20T10:45:00+08:00",
        "contained": [
            {
                "resourceType": "Observation",
                "id": "wbc",
                "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}], "text": "白细胞计数"},
                "valueQuantity": quantity(wbc),
                "referenceRange": [{"low": quantity(3.5), "high": quantity(9.5)}],
            },
            {
                "resourceType": "Observation",
                "id": "hb",
                "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}], "text": "血红蛋白"},
                "valueQuantity": quantity(105, "g/L"),
                "referenceRange": [{"low": quantity(115, "g/L"), "high": quantity(150, "g/L")}],
            },
            {
                "resourceType": "Observation",
                "id": "plt",
                "code": {"coding": [{"system": "http://loinc.org", "code": "777-3"}], "text": "血小板计数"},
                "valueQuantity": quantity(236),
                "referenceRange": [{"low": quantity(125), "high": quantity(350)}],
            },
            {
                "resourceType": "Observation",
                "id": "crp",
                "code": {"text": "C反应蛋白（快速）"},
                "valueQuantity": quantity(4.2, "mg/L"),
                "referenceRange": [{"text": "见说明"}],
            },
        ],
        "result": [{"reference": "#wbc"}, {"reference": "#hb"}, {"reference": "#plt"}, {"reference": "#crp"}],
    }


def imaging_body(
    patient_id: int, *, identifier: str = "PACS-0001", conclusion: str = "双肺未见明显异常。"
) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "identifier": identifier,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "36643-5"}], "text": "胸部X线正侧位片"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-11-21",
        "issued": "2026-11-21T14:05:00+08:00",
        "conclusion": conclusion,
    }


def edited(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    change(copied)
    return copied


async def stored_counts(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(Report)) or 0),
            int(await session.scalar(select(func.count()).select_from(ReportVersion)) or 0),
            int(await session.scalar(select(func.count()).select_from(Observation)) or 0),
        )


Push = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def push(client: httpx.AsyncClient, system_headers: Headers) -> Push:
    async def send(body: Any, *, url: str = LAB, headers: Headers | None = None) -> httpx.Response:
        return await client.post(url, json=body, headers=headers or system_headers)

    return send
