"""Who reads a report: the patient, bound family, the hospital and the patient's doctors there; nobody
else (404, as if it did not exist). Every read is audited; FHIR and the pages show the same facts."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.records.conftest import PatientUser, consultation_for, patient_for
from tests.care.registry.helpers import make_doctor
from tests.care.reports.conftest import IMAGING, Push, imaging_body, lab_body
from tests.factories import browser_login, make_user, token_headers

REPORT = "/api/care/reports/{}"


async def read_actions(db: Database) -> list[str]:
    async with db.session() as session:
        result = await session.execute(
            select(AuditEntry.action).where(AuditEntry.action.like("report.%")).order_by(AuditEntry.id)
        )
        return list(result.scalars())


async def test_the_patient_and_a_bound_family_member_see_it_and_strangers_do_not(
    push: Push, client: httpx.AsyncClient, db: Database, settings: Any, world: World, patient: PatientUser
) -> None:
    child = await patient_for(db, settings, born=date(2020, 6, 1), child_of=patient)  # bound to the parent
    await consultation_for(db, world, child, status="completed")
    own = (await push(lab_body(patient.patient_id))).json()["report"]["id"]
    childs = (await push(imaging_body(child.patient_id), url=IMAGING)).json()["report"]["id"]
    parent = token_headers(settings, patient.user)

    listed = await client.get("/api/care/reports", headers=parent)
    assert listed.status_code == 200
    # newest issued first: the X-ray (21 Nov) before the blood count (20 Nov)
    assert [item["id"] for item in listed.json()] == [childs, own]
    assert listed.json()[1]["out_of_range"] == 2
    for report_id in (own, childs):
        assert (await client.get(REPORT.format(report_id), headers=parent)).status_code == 200

    stranger = await patient_for(db, settings)
    other = token_headers(settings, stranger.user)
    assert (await client.get("/api/care/reports", headers=other)).json() == []
    refused = await client.get(REPORT.format(own), headers=other)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "report_not_found"
    assert (await client.get(REPORT.format(own) + "/fhir", headers=other)).status_code == 404
    assert (await client.get(REPORT.format(999999), headers=parent)).status_code == 404
    actions = await read_actions(db)
    assert actions.count("report.read") == 2 and "report.list" in actions


async def test_doctors_see_it_only_after_a_consultation_with_the_patient_at_that_hospital(
    push: Push, client: httpx.AsyncClient, db: Database, settings: Any, world: World, patient: PatientUser
) -> None:
    from regio.care.registry import service as registry_service
    from regio.core.access import Role, RoleGrant, ScopeKind

    report_id = (await push(lab_body(patient.patient_id))).json()["report"]["id"]
    # the world's doctor held the patient's consultation
    assert (
        await client.get(REPORT.format(report_id), headers=token_headers(settings, world.doctor_user))
    ).status_code == 200

    other_doctor = await make_doctor(db, world.hospital_id, department_codes=["respiratory"])
    grant = RoleGrant(Role.doctor, ScopeKind.hospital, str(world.hospital_id))
    user = await make_user(db, roles=[grant])
    async with db.session() as session:
        await registry_service.link_doctor_user(
            session=session, principal=registry_service.SYSTEM, doctor_id=other_doctor, user_id=user.id
        )
    headers = token_headers(settings, user)
    assert (await client.get(REPORT.format(report_id), headers=headers)).status_code == 404
    await consultation_for(db, world, patient, doctor_id=other_doctor)
    assert (await client.get(REPORT.format(report_id), headers=headers)).status_code == 200
    # a doctor is not a patient: the "my reports" list is not theirs
    assert (await client.get("/api/care/reports", headers=headers)).status_code == 403


async def test_the_pushing_hospital_reads_it_back_and_a_platform_admin_does_not(
    push: Push,
    client: httpx.AsyncClient,
    db: Database,
    settings: Any,
    system_headers: dict[str, str],
    patient: PatientUser,
) -> None:
    from regio.core.access import Role

    report_id = (await push(lab_body(patient.patient_id))).json()["report"]["id"]
    assert (await client.get(REPORT.format(report_id), headers=system_headers)).status_code == 200
    admin = await make_user(db, roles=[Role.platform_admin])
    assert (
        await client.get(REPORT.format(report_id), headers=token_headers(settings, admin))
    ).status_code == 404


async def test_the_fhir_view_is_a_diagnostic_report_with_contained_flagged_observations(
    push: Push, client: httpx.AsyncClient, settings: Any, world: World, patient: PatientUser
) -> None:
    report_id = (await push(lab_body(patient.patient_id))).json()["report"]["id"]
    response = await client.get(
        REPORT.format(report_id) + "/fhir", headers=token_headers(settings, patient.user)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource = response.json()
    assert resource["resourceType"] == "DiagnosticReport" and resource["status"] == "final"
    assert resource["subject"] == {"reference": f"Patient/{patient.patient_id}"}
    assert resource["performer"][0]["reference"] == f"Organization/{world.hospital_id}"
    assert resource["issued"] == "2026-11-20T02:45:00Z"
    assert [ref["reference"] for ref in resource["result"]] == [f"#{o['id']}" for o in resource["contained"]]
    wbc = resource["contained"][0]
    assert wbc["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "6690-2",
        "display": "白细胞计数",
    }
    assert wbc["valueQuantity"] == {
        "value": 11.2,
        "unit": "10*9/L",
        "system": "http://unitsofmeasure.org",
        "code": "10*9/L",
    }
    assert wbc["interpretation"][0]["coding"][0]["code"] == "H"
    assert wbc["referenceRange"][0]["low"]["value"] == 3.5
    assert resource["contained"][3]["interpretation"] == [{"text": "no reference range"}]


async def test_the_pages_show_flags_with_arrows_ranges_and_the_conclusion(
    push: Push, client: httpx.AsyncClient, patient: PatientUser
) -> None:
    lab = (await push(lab_body(patient.patient_id))).json()["report"]["id"]
    scan = (await push(imaging_body(patient.patient_id), url=IMAGING)).json()["report"]["id"]
    await browser_login(client, patient.user.username)
    listing = await client.get("/care/reports")
    assert listing.status_code == 200
    assert "报告查询" in listing.text and "血常规" in listing.text and "胸部X线正侧位片" in listing.text
    assert listing.text.index(f'data-report-id="{scan}"') < listing.text.index(f'data-report-id="{lab}"')
    page = await client.get(f"/care/reports/{lab}")
    assert page.status_code == 200
    assert 'class="flag-H"' in page.text and "↑ 偏高" in page.text and "↓ 偏低" in page.text
    assert "3.5–9.5" in page.text and "无参考范围" in page.text and 'name="viewport"' in page.text
    english = await client.get(f"/care/reports/{lab}?lang=en")
    assert "↑ High" in english.text and "Reference range" in english.text
    imaging = await client.get(f"/care/reports/{scan}?lang=zh-CN")
    assert "双肺未见明显异常。" in imaging.text and "结论" in imaging.text
    assert (await client.get("/care/reports/424242")).status_code == 404
