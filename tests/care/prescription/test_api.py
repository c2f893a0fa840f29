"""The prescription API over HTTP: catalog search, the stand-alone safety check, FHIR, statistics (no 统方),
and the refusals a person can read."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from regio.care.prescription.catalog import shipped_catalog
from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.prescription.conftest import MakeDraft, Setting
from tests.care.prescription.test_flow import approve, sign_as_doctor
from tests.factories import make_user, token_headers


def _code(name_en: str) -> str:
    return next(d.code for d in shipped_catalog() if d.name_en.lower() == name_en)


async def test_drugs_are_found_by_chinese_english_and_pinyin_initials(
    client: httpx.AsyncClient, settings: Settings, setting: Setting
) -> None:
    headers = token_headers(settings, setting.world.doctor_user)
    for query in ("氨氯地平", "amlodipine", "aldp"):
        answer = await client.get("/api/care/drugs", params={"q": query}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert any(item["name_en"].lower() == "amlodipine" for item in answer.json()), query
    nothing = await client.get("/api/care/drugs", params={"q": "不存在的药"}, headers=headers)
    assert nothing.json() == []
    assert (await client.get("/api/care/drugs", params={"q": "x"})).status_code == 401


async def test_the_check_endpoint_reports_rules_and_interactions_for_a_pharmacy_system(
    client: httpx.AsyncClient, settings: Settings, setting: Setting
) -> None:
    headers = token_headers(settings, setting.world.doctor_user)
    warfarin, aspirin = _code("warfarin"), _code("acetylsalicylic acid")
    controlled = next(d for d in shipped_catalog() if d.control.value == "narcotic")
    body = {
        "patient": {"age_years": 67, "sex": "female", "weight_kg": 58, "allergies": []},
        "lines": [
            {
                "drug_code": warfarin,
                "dose": 3,
                "dose_unit": "mg",
                "route": "po",
                "frequency": "qd",
                "days": 7,
            },
            {
                "drug_code": aspirin,
                "dose": 100,
                "dose_unit": "mg",
                "route": "po",
                "frequency": "qd",
                "days": 7,
            },
            {
                "drug_code": controlled.code,
                "dose": 10,
                "dose_unit": controlled.dose_unit,
                "route": "po",
                "frequency": "bid",
                "days": 10,
            },
        ],
    }
    answer = await client.post("/api/care/prescriptions/check", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    findings = answer.json()["findings"]
    interaction = [
        f for f in findings if f["check"] == "interaction" and set(f["drugs"]) == {warfarin, aspirin}
    ]
    assert (
        interaction
        and interaction[0]["severity"] in ("major", "contraindicated")
        and interaction[0]["source"]
    )
    rules = {
        f["check"]: f
        for f in findings
        if f["severity"] == "contraindicated" and controlled.code in f["drugs"]
    }
    assert "controlled_drug" in rules and "第十九条" in rules["controlled_drug"]["source"]
    assert "quantity" in rules
    assert set(answer.json()["blocking"]) >= {rules["controlled_drug"]["key"], rules["quantity"]["key"]}


async def test_the_check_refuses_unknown_codes_frequencies_and_bad_numbers_with_4xx(
    client: httpx.AsyncClient, settings: Settings, setting: Setting
) -> None:
    headers = token_headers(settings, setting.world.doctor_user)
    line = {
        "drug_code": _code("amlodipine"),
        "dose": 5,
        "dose_unit": "mg",
        "route": "po",
        "frequency": "qd",
        "days": 7,
    }
    patient = {"age_years": 50, "sex": "male"}
    unknown = await client.post(
        "/api/care/prescriptions/check",
        json={"patient": patient, "lines": [dict(line, drug_code="ZZ9999")]},
        headers=headers,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_drug"
    assert "ZZ9999" in unknown.json()["error"]["message_zh"]
    frequency = await client.post(
        "/api/care/prescriptions/check",
        json={"patient": patient, "lines": [dict(line, frequency="thrice")]},
        headers=headers,
    )
    assert frequency.status_code == 422 and frequency.json()["error"]["code"] == "unknown_frequency"
    for bad in ({"dose": -1}, {"days": 0}, {"dose": "NaN"}):
        answer = await client.post(
            "/api/care/prescriptions/check",
            json={"patient": patient, "lines": [dict(line, **bad)]},
            headers=headers,
        )
        assert answer.status_code == 422, bad


async def test_prescribing_statistics_are_for_the_hospitals_quality_officer_only(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    hospital = str(setting.world.hospital_id)
    quality = await make_user(db, roles=[RoleGrant(Role.quality_officer, ScopeKind.hospital, hospital)])
    admin = await make_user(db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, hospital)])
    today = date.today()
    params = {
        "hospital_id": hospital,
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }
    allowed = await client.get(
        "/api/care/prescriptions/statistics", params=params, headers=token_headers(settings, quality)
    )
    assert allowed.status_code == 200, allowed.text
    [row] = allowed.json()["doctors"]
    assert row["doctor_id"] == setting.world.doctor_id and row["prescriptions"] == 1
    for user in (admin, setting.world.doctor_user):
        refused = await client.get(
            "/api/care/prescriptions/statistics", params=params, headers=token_headers(settings, user)
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "prescribing_statistics_forbidden"


async def test_fhir_view_follows_the_review(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    await sign_as_doctor(db, setting, settings, prescription_id)
    headers = token_headers(settings, setting.world.doctor_user)
    bundle = (await client.get(f"/api/care/prescriptions/{prescription_id}/fhir", headers=headers)).json()
    assert bundle["resourceType"] == "Bundle"
    assert {e["resource"]["status"] for e in bundle["entry"]} == {"on-hold"}
    await approve(db, setting, prescription_id)
    bundle = (await client.get(f"/api/care/prescriptions/{prescription_id}/fhir", headers=headers)).json()
    assert {e["resource"]["status"] for e in bundle["entry"]} == {"active"}
    assert bundle["entry"][0]["resource"]["reasonCode"][0]["coding"][0]["code"] == "I10"


async def test_another_patient_sees_no_such_prescription(
    client: httpx.AsyncClient, db: Database, settings: Settings, setting: Setting, make_draft: MakeDraft
) -> None:
    prescription_id = await make_draft()
    stranger = await make_user(db, roles=[RoleGrant(Role.patient, ScopeKind.platform, "")])
    answer = await client.get(
        f"/api/care/prescriptions/{prescription_id}", headers=token_headers(settings, stranger)
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "prescription_not_found"
    own = await client.get(
        f"/api/care/prescriptions/{prescription_id}",
        headers=token_headers(settings, setting.world.doctor_user),
    )
    assert own.status_code == 200 and own.json()["status"] == "draft"
