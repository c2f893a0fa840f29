"""Hospitals push reports: stored and flagged when well formed, refused whole with every problem itemised
when not, idempotent when repeated, versioned when changed, and only by the patient's own hospital."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regio.care.reports import fhir
from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.records.conftest import PatientUser, patient_for
from tests.care.registry.helpers import make_hospital
from tests.care.reports.conftest import (
    IMAGING,
    LAB,
    Push,
    edited,
    hospital_system,
    imaging_body,
    lab_body,
    stored_counts,
)
from tests.factories import make_user, token_headers


async def audit_actions(db: Database, report_id: int) -> list[str]:
    async with db.session() as session:
        result = await session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "report", AuditEntry.object_id == str(report_id))
            .order_by(AuditEntry.id)
        )
        return list(result.scalars())


def problems_of(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "report_invalid"
    for item in error["details"]["problems"]:
        assert item["message_zh"] and item["message_en"]
    return [(item["path"], item["code"]) for item in error["details"]["problems"]]


async def test_a_valid_lab_push_is_stored_with_values_units_and_flags(
    push: Push, db: Database, patient: PatientUser, world: World
) -> None:
    response = await push(lab_body(patient.patient_id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True
    report = body["report"]
    assert (report["kind"], report["version"], report["status"], report["hospital_id"]) == (
        "lab",
        1,
        "final",
        world.hospital_id,
    )
    lines = {item["code_text"]: item for item in report["observations"]}
    assert (lines["白细胞计数"]["value"], lines["白细胞计数"]["unit"], lines["白细胞计数"]["flag"]) == (
        11.2,
        "10*9/L",
        "H",
    )
    assert lines["血红蛋白"]["flag"] == "L" and lines["血红蛋白"]["range_display"] == "115–150"
    assert lines["血小板计数"]["flag"] == "N"
    # a range given only in words judges nothing: never silently normal
    assert lines["C反应蛋白（快速）"]["flag"] == "no_range"
    assert report["out_of_range"] == 2
    assert [item["code"] for item in report["observations"]][:3] == ["6690-2", "718-7", "777-3"]
    assert await stored_counts(db) == (1, 1, 4)
    assert await audit_actions(db, report["id"]) == ["report.pushed"]


async def test_an_imaging_report_keeps_its_conclusion(push: Push, patient: PatientUser) -> None:
    response = await push(imaging_body(patient.patient_id), url=IMAGING)
    assert response.status_code == 201, response.text
    report = response.json()["report"]
    assert report["conclusion"] == "双肺未见明显异常。" and report["observations"] == []
    assert report["kind"] == "imaging"


def _drop(*keys: str) -> Any:
    def change(body: dict[str, Any]) -> None:
        for key in keys:
            body.pop(key)

    return change


def _set(path: list[str | int], value: Any) -> Any:
    def change(body: dict[str, Any]) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _delete(path: list[str | int]) -> Any:
    def change(body: dict[str, Any]) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return change


MALFORMED = [
    (
        "missing fields",
        _drop("identifier", "status", "subject"),
        [("/identifier", "required"), ("/status", "required"), ("/subject", "required")],
    ),
    (
        "missing times",
        _drop("effectiveDateTime", "issued"),
        [("/effectiveDateTime", "required"), ("/issued", "required")],
    ),
    ("wrong resource", _set(["resourceType"], "Observation"), [("/resourceType", "invalid_value")]),
    ("unknown status", _set(["status"], "done"), [("/status", "invalid_value")]),
    ("status not a string", _set(["status"], 3), [("/status", "wrong_type")]),
    (
        "value as a word",
        _set(["contained", 0, "valueQuantity", "value"], "high"),
        [("/contained/0/valueQuantity/value", "not_a_number")],
    ),
    (
        "value as a list",
        _set(["contained", 2, "valueQuantity", "value"], [1]),
        [("/contained/2/valueQuantity/value", "wrong_type")],
    ),
    (
        "value as a boolean",
        _set(["contained", 2, "valueQuantity", "value"], True),
        [("/contained/2/valueQuantity/value", "wrong_type")],
    ),
    (
        "unit without value",
        _delete(["contained", 1, "valueQuantity", "value"]),
        [("/contained/1/valueQuantity/value", "required")],
    ),
    (
        "value without unit",
        _set(["contained", 1, "valueQuantity"], {"value": 3}),
        [("/contained/1/valueQuantity/unit", "unit_missing")],
    ),
    (
        "not UCUM",
        _set(["contained", 1, "valueQuantity", "system"], "http://example.org/units"),
        [("/contained/1/valueQuantity/system", "unit_system")],
    ),
    (
        "range low above high",
        _set(["contained", 2, "referenceRange", 0, "low", "value"], 400),
        [("/contained/2/referenceRange/0", "range_inverted")],
    ),
    (
        "range in another unit",
        _set(["contained", 2, "referenceRange", 0, "high", "code"], "g/L"),
        [("/contained/2/referenceRange/0/high", "unit_mismatch")],
    ),
    (
        "bad LOINC check digit",
        _set(["contained", 0, "code", "coding", 0, "code"], "6690-3"),
        [("/contained/0/code/coding/0/code", "invalid_loinc")],
    ),
    ("no name for a test", _set(["contained", 3, "code"], {}), [("/contained/3/code/text", "required")]),
    (
        "dangling reference",
        _set(["result", 1, "reference"], "#nothing"),
        [("/result/1/reference", "unresolved_reference")],
    ),
    (
        "outside reference",
        _set(["result", 1, "reference"], "Observation/9"),
        [("/result/1/reference", "invalid_reference")],
    ),
    ("no results", _drop("contained", "result"), [("/result", "observations_required")]),
    ("time without zone", _set(["issued"], "2026-11-20T10:45:00"), [("/issued", "timezone_missing")]),
    ("not a date", _set(["effectiveDateTime"], "20/11/2026"), [("/effectiveDateTime", "invalid_date")]),
    ("issued in the future", _set(["issued"], "2099-01-01T00:00:00Z"), [("/issued", "in_future")]),
    (
        "collected after issue",
        _set(["effectiveDateTime"], "2026-11-20T11:00:00+08:00"),
        [("/effectiveDateTime", "after_issued")],
    ),
    (
        "patient id not a number",
        _set(["subject"], {"identifier": {"value": "abc"}}),
        [("/subject/identifier/value", "invalid_value")],
    ),
    (
        "both value kinds",
        _set(["contained", 3, "valueString"], "阴性"),
        [("/contained/3", "ambiguous_value")],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
async def test_a_malformed_push_lists_each_problem_and_stores_nothing(
    push: Push, db: Database, patient: PatientUser, change: Any, expected: list[tuple[str, str]]
) -> None:
    response = await push(edited(lab_body(patient.patient_id), change))
    found = problems_of(response)
    assert set(expected) <= set(found), found
    assert await stored_counts(db) == (0, 0, 0)


async def test_nan_and_infinity_are_named_at_their_path(
    client: httpx.AsyncClient, system_headers: dict[str, str], db: Database, patient: PatientUser
) -> None:
    import json

    body = lab_body(patient.patient_id)
    body["contained"][0]["valueQuantity"]["value"] = float("nan")
    body["contained"][2]["referenceRange"][0]["high"]["value"] = float("inf")
    raw = json.dumps(body)  # writes the NaN and Infinity literals Python's json accepts
    assert "NaN" in raw and "Infinity" in raw
    response = await client.post(
        LAB, content=raw, headers={**system_headers, "Content-Type": "application/json"}
    )
    assert set(problems_of(response)) >= {
        ("/contained/0/valueQuantity/value", "not_a_number"),
        ("/contained/2/referenceRange/0/high/value", "not_a_number"),
    }
    huge = raw.replace("NaN", "1e400").replace("Infinity", "2")
    assert ("/contained/0/valueQuantity/value", "not_a_number") in problems_of(
        await client.post(LAB, content=huge, headers={**system_headers, "Content-Type": "application/json"})
    )
    assert await stored_counts(db) == (0, 0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b'"report"',
        b"\xff\xfe\x00",
        b'{"a": ' * 5000,
        b'{"resourceType": "DiagnosticReport", "status": "\\ud800"}',
    ],
)
async def test_a_body_that_is_not_a_report_object_is_refused_with_a_problem(
    client: httpx.AsyncClient, system_headers: dict[str, str], db: Database, raw: bytes
) -> None:
    response = await client.post(
        LAB, content=raw, headers={**system_headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["code"] in ("report_invalid", "invalid_characters", "malformed_body")
    assert await stored_counts(db) == (0, 0, 0)


async def test_an_unknown_patient_and_one_never_cared_for_here_read_alike(
    push: Push, db: Database, settings: Any, patient: PatientUser
) -> None:
    stranger = await patient_for(db, settings)  # registered, but never seen at this hospital
    for patient_id in (stranger.patient_id, 987654321):
        assert problems_of(await push(lab_body(patient_id))) == [("/subject", "unknown_patient")]
    assert await stored_counts(db) == (0, 0, 0)


async def test_another_hospitals_system_may_not_push_for_this_hospital(
    client: httpx.AsyncClient, push: Push, db: Database, world: World, patient: PatientUser
) -> None:
    other = await make_hospital(db)
    other_headers = await hospital_system(client, db, other)
    body = lab_body(patient.patient_id)
    body["performer"] = [{"reference": f"Organization/{world.hospital_id}"}]
    refused = await push(body, headers=other_headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_reporting_hospital"
    # without a performer the push is the other hospital's own, which never cared for the patient
    assert problems_of(await push(lab_body(patient.patient_id), headers=other_headers)) == [
        ("/subject", "unknown_patient")
    ]
    assert await stored_counts(db) == (0, 0, 0)


async def test_people_without_the_hospitals_admin_role_cannot_push(
    push: Push, client: httpx.AsyncClient, db: Database, settings: Any, world: World, patient: PatientUser
) -> None:
    for headers in (token_headers(settings, patient.user), token_headers(settings, world.doctor_user)):
        response = await push(lab_body(patient.patient_id), headers=headers)
        assert response.status_code == 403, response.text
    anonymous = await client.post(LAB, json=lab_body(patient.patient_id))
    assert anonymous.status_code == 401
    assert await stored_counts(db) == (0, 0, 0)


async def test_a_hospital_admin_person_may_push_too(
    push: Push, db: Database, settings: Any, world: World, patient: PatientUser
) -> None:
    from regio.core.access import Role, RoleGrant, ScopeKind

    admin = await make_user(
        db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(world.hospital_id))]
    )
    response = await push(lab_body(patient.patient_id), headers=token_headers(settings, admin))
    assert response.status_code == 201, response.text


async def test_the_same_push_twice_stores_one_version(push: Push, db: Database, patient: PatientUser) -> None:
    first = await push(lab_body(patient.patient_id))
    body = lab_body(patient.patient_id)
    body["contained"].reverse()  # order of contained resources and keys is not content
    again = await push(body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False and again.json()["report"]["id"] == first.json()["report"]["id"]
    assert await stored_counts(db) == (1, 1, 4)
    assert await audit_actions(db, first.json()["report"]["id"]) == ["report.pushed", "report.push_repeated"]


async def test_changed_content_is_a_new_version_and_a_released_report_must_say_amended(
    push: Push, client: httpx.AsyncClient, db: Database, settings: Any, patient: PatientUser
) -> None:
    first = (await push(lab_body(patient.patient_id))).json()["report"]
    changed = lab_body(patient.patient_id, wbc=8.0)
    refused = await push(changed)
    assert problems_of(refused) == [("/status", "amendment_status_required")]
    changed["status"] = "amended"
    second = await push(changed)
    assert second.status_code == 201, second.text
    report = second.json()["report"]
    assert (report["id"], report["version"], report["status"], report["out_of_range"]) == (
        first["id"],
        2,
        "amended",
        1,
    )
    assert [v["version"] for v in report["versions"]] == [2, 1]
    # the first version is kept as it was
    headers = token_headers(settings, patient.user)
    old = await client.get(f"/api/care/reports/{first['id']}?version=1", headers=headers)
    assert old.status_code == 200 and old.json()["observations"][0]["flag"] == "H"
    assert await stored_counts(db) == (1, 2, 8)
    assert await audit_actions(db, first["id"]) == ["report.pushed", "report.new_version", "report.read"]


async def test_a_preliminary_report_may_become_final_without_saying_amended(
    push: Push, patient: PatientUser
) -> None:
    body = lab_body(patient.patient_id)
    body["status"] = "preliminary"
    assert (await push(body)).status_code == 201
    body["status"] = "final"
    final = await push(body)
    assert final.status_code == 201 and final.json()["report"]["version"] == 2


async def test_a_report_number_keeps_its_patient_and_kind(
    push: Push, db: Database, settings: Any, world: World, patient: PatientUser
) -> None:
    from tests.care.records.conftest import consultation_for

    other = await patient_for(db, settings)
    await consultation_for(db, world, other)
    assert (await push(lab_body(patient.patient_id))).status_code == 201
    moved = await push(lab_body(other.patient_id))
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "report_identifier_mismatch"
    as_imaging = await push(imaging_body(patient.patient_id, identifier="LIS-0001"), url=IMAGING)
    assert as_imaging.status_code == 409
    assert await stored_counts(db) == (1, 1, 4)


def test_loinc_check_digits() -> None:
    assert all(fhir.loinc_valid(code) for code in ("718-7", "6690-2", "789-8", "777-3", "4544-3", "58410-2"))
    assert not any(fhir.loinc_valid(code) for code in ("718-8", "6690", "abc-1", "12345678-1", ""))
