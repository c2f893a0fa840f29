"""The registry over HTTP: public reads, authenticated writes, stable error codes, 412 on stale If-Match."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regio.care.registry.models import Doctor, Hospital
from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.factories import make_user, token_headers

from .helpers import make_doctor, make_hospital, today, years_ago


async def _headers(
    db: Database, settings: Settings, role: Role, kind: ScopeKind = ScopeKind.platform, scope: str = ""
) -> dict[str, str]:
    user = await make_user(db, roles=[RoleGrant(role, kind, scope)])
    return token_headers(settings, user)


def _hospital_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "绍兴测试医院",
        "level": "三级乙等",
        "city_adcode": "330600",
        "licence_no": "API-H-0001",
        "licence_valid_from": (today() - timedelta(days=30)).isoformat(),
        "licence_valid_to": (today() + timedelta(days=700)).isoformat(),
        "department_codes": ["呼吸内科", "fever_clinic"],
    }
    body.update(overrides)
    return body


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message_zh"] and error["message_en"] and error["message_zh"] != error["message_en"]
    return error


async def test_visitors_read_listed_hospitals_with_departments_without_signing_in(
    client: httpx.AsyncClient, db: Database
) -> None:
    listed = await make_hospital(db, department_codes=["pediatrics", "fever_clinic"])
    await make_hospital(db, status="suspended")
    await make_hospital(
        db, licence_valid_from=today() - timedelta(days=400), licence_valid_to=today() - timedelta(days=1)
    )
    response = await client.get("/api/care/hospitals")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1 and [h["id"] for h in body["items"]] == [listed]
    assert [d["name_zh"] for d in body["items"][0]["departments"]] == ["儿科", "发热门诊"]
    detail = await client.get(f"/api/care/hospitals/{listed}")
    assert detail.status_code == 200 and detail.headers["ETag"] == '"1"'


async def test_the_department_list_is_public_and_marks_around_the_clock_departments(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/care/departments")
    departments = {d["code"]: d for d in response.json()}
    assert len(departments) >= 25
    assert departments["fever_clinic"]["around_the_clock"] is True
    assert departments["respiratory"] == {
        "code": "respiratory",
        "name_zh": "呼吸内科",
        "name_en": "Respiratory medicine",
        "catalogue_code": "03.01",
        "around_the_clock": False,
    }


async def test_an_unlisted_hospital_is_not_found_for_the_public(
    client: httpx.AsyncClient, db: Database
) -> None:
    suspended = await make_hospital(db, status="suspended")
    _error(await client.get(f"/api/care/hospitals/{suspended}"), 404, "hospital_not_found")
    _error(await client.get(f"/api/care/hospitals/{suspended}/doctors"), 404, "hospital_not_found")


async def test_search_filters_reach_the_query(client: httpx.AsyncClient, db: Database) -> None:
    ningbo = await make_hospital(
        db, name="宁波眼科医院", city_adcode="330200", department_codes=["ophthalmology"]
    )
    await make_hospital(db, name="杭州眼科医院", city_adcode="330100", department_codes=["ophthalmology"])
    await make_hospital(db, name="宁波口腔医院", city_adcode="330200", department_codes=["stomatology"])
    response = await client.get(
        "/api/care/hospitals", params={"city": "330200", "department": "眼科", "q": "宁波"}
    )
    assert [h["id"] for h in response.json()["items"]] == [ningbo]
    _error(await client.get("/api/care/hospitals", params={"city": "330000"}), 422, "invalid_adcode")
    _error(await client.get("/api/care/hospitals", params={"department": "x"}), 422, "unknown_department")
    _error(await client.get("/api/care/hospitals", params={"page_size": 500}), 422, "validation_error")


async def test_doctor_search_and_hospital_doctors_mask_licences_for_the_public(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    hospital_id = await make_hospital(db, city_adcode="330300")
    await make_doctor(db, hospital_id, real_name="林晓峰", licence_no="110330106000123")
    await make_doctor(db, hospital_id, real_name="周新人", independent_practice_since=years_ago(1))
    public = (await client.get(f"/api/care/hospitals/{hospital_id}/doctors")).json()
    assert {d["real_name"]: d["may_consult_online"] for d in public} == {"林晓峰": True, "周新人": False}
    assert all(d["licence_masked"] for d in public)
    assert "110330106000123" not in (await client.get(f"/api/care/hospitals/{hospital_id}/doctors")).text
    found = (
        await client.get(
            "/api/care/doctors", params={"q": "晓峰", "city": "330300", "department": "respiratory"}
        )
    ).json()
    assert [d["real_name"] for d in found["items"]] == ["林晓峰"]
    assert found["items"][0]["licence_no"] == "110*********123"
    admin = await _headers(db, settings, Role.hospital_admin, ScopeKind.hospital, str(hospital_id))
    own = (await client.get(f"/api/care/hospitals/{hospital_id}/doctors", headers=admin)).json()
    assert "110330106000123" in {d["licence_no"] for d in own}


async def test_writes_need_a_signed_in_principal(client: httpx.AsyncClient, db: Database) -> None:
    hospital_id = await make_hospital(db)
    for method, path, body in [
        ("POST", "/api/care/hospitals", _hospital_body()),
        ("PATCH", f"/api/care/hospitals/{hospital_id}", {"status": "suspended"}),
        ("POST", f"/api/care/hospitals/{hospital_id}/departments", {"department_codes": ["ent"]}),
        ("POST", "/api/care/doctors", {}),
        ("POST", "/api/care/doctors/1/practice-sites", {}),
        ("POST", "/api/care/pharmacists", {}),
        ("GET", f"/api/care/hospitals/{hospital_id}/pharmacists", None),
    ]:
        _error(await client.request(method, path, json=body), 401, "not_authenticated")


async def test_a_health_admin_registers_a_hospital_and_a_duplicate_is_409(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    headers = await _headers(db, settings, Role.health_admin, ScopeKind.region, "330000")
    created = await client.post("/api/care/hospitals", json=_hospital_body(), headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"' and created.json()["department_count"] == 2
    again = await client.post("/api/care/hospitals", json=_hospital_body(name="另一个名字"), headers=headers)
    error = _error(again, 409, "hospital_exists")
    assert "API-H-0001" in error["message_zh"]
    assert await _count(db, Hospital) == 1


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"city_adcode": "330199"}, 422, "invalid_adcode"),
        ({"licence_valid_to": "2000-01-01"}, 422, "invalid_licence_period"),
        ({"licence_valid_to": "not-a-date"}, 422, "validation_error"),
        ({"department_codes": ["ufo"]}, 422, "unknown_department"),
        ({"surprise": 1}, 422, "validation_error"),
    ],
)
async def test_bad_hospital_input_gets_a_stable_4xx_and_writes_nothing(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    headers = await _headers(db, settings, Role.health_admin, ScopeKind.region, "330000")
    _error(
        await client.post("/api/care/hospitals", json=_hospital_body(**overrides), headers=headers),
        status,
        code,
    )
    assert await _count(db, Hospital) == 0


async def test_patch_with_a_stale_if_match_is_412_and_a_fresh_one_succeeds(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    hospital_id = await make_hospital(db)
    headers = await _headers(db, settings, Role.health_admin, ScopeKind.region, "330000")
    first = await client.patch(
        f"/api/care/hospitals/{hospital_id}", json={"address": "新址"}, headers={**headers, "If-Match": '"1"'}
    )
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    stale = await client.patch(
        f"/api/care/hospitals/{hospital_id}",
        json={"status": "suspended"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert _error(stale, 412, "stale_version")["details"]["current"] == 2
    assert (await client.get(f"/api/care/hospitals/{hospital_id}")).status_code == 200  # still listed
    fresh = await client.patch(
        f"/api/care/hospitals/{hospital_id}",
        json={"status": "suspended"},
        headers={**headers, "If-Match": 'W/"2"'},
    )
    assert fresh.status_code == 200 and fresh.json()["listed"] is False
    _error(await client.get(f"/api/care/hospitals/{hospital_id}"), 404, "hospital_not_found")
    bad = await client.patch(
        f"/api/care/hospitals/{hospital_id}",
        json={"status": "approved"},
        headers={**headers, "If-Match": "three"},
    )
    _error(bad, 400, "invalid_if_match")
    _error(
        await client.patch(f"/api/care/hospitals/{hospital_id}", json={}, headers=headers),
        422,
        "empty_change",
    )


async def test_an_id_beyond_bigint_is_refused_not_crashed(client: httpx.AsyncClient) -> None:
    _error(await client.get(f"/api/care/hospitals/{2**70}"), 422, "validation_error")


async def test_staff_writes_by_a_hospital_admin(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    own = await make_hospital(db, department_codes=["respiratory"])
    other = await make_hospital(db, department_codes=["respiratory"])
    headers = await _headers(db, settings, Role.hospital_admin, ScopeKind.hospital, str(own))
    added = await client.post(
        f"/api/care/hospitals/{own}/departments", json={"department_codes": ["儿科"]}, headers=headers
    )
    assert added.status_code == 201 and added.json()["department_count"] == 2
    doctor = {
        "real_name": "沈医生",
        "licence_no": "API-D-000001",
        "title": "主任医师",
        "independent_practice_since": "2001-09-01",
        "real_name_verified": True,
        "hospital_id": own,
        "department_codes": ["respiratory", "pediatrics"],
    }
    created = await client.post("/api/care/doctors", json=doctor, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["licence_no"] == "API-D-000001" and created.json()["may_consult_online"]
    _error(await client.post("/api/care/doctors", json=doctor, headers=headers), 409, "doctor_exists")
    _error(
        await client.post("/api/care/doctors", json={**doctor, "title": "教授"}, headers=headers),
        422,
        "invalid_title",
    )
    _error(
        await client.post(
            "/api/care/doctors", json={**doctor, "licence_no": "X-99", "hospital_id": other}, headers=headers
        ),
        403,
        "forbidden",
    )
    assert await _count(db, Doctor) == 1
    doctor_id = created.json()["id"]
    other_admin = await _headers(db, settings, Role.hospital_admin, ScopeKind.hospital, str(other))
    site = await client.post(
        f"/api/care/doctors/{doctor_id}/practice-sites",
        json={"hospital_id": other, "department_code": "respiratory"},
        headers=other_admin,
    )
    assert site.status_code == 201 and len(site.json()["sites"]) == 3
    repeat = await client.post(
        f"/api/care/doctors/{doctor_id}/practice-sites",
        json={"hospital_id": other, "department_code": "呼吸内科"},
        headers=other_admin,
    )
    _error(repeat, 409, "practice_site_exists")
    pharmacist = await client.post(
        "/api/care/pharmacists",
        json={"real_name": "钱药师", "licence_no": "API-P-0001", "hospital_id": own},
        headers=headers,
    )
    assert pharmacist.status_code == 201 and pharmacist.json()["licence_no"] == "API-P-0001"


# ---- the access matrix over HTTP: who may write to which hospital -----------------------------------

ROLES = {
    "patient": (Role.patient, ScopeKind.platform, ""),
    "doctor": (Role.doctor, ScopeKind.hospital, "{own}"),
    "pharmacist": (Role.pharmacist, ScopeKind.hospital, "{own}"),
    "hospital_admin": (Role.hospital_admin, ScopeKind.hospital, "{own}"),
    "health_admin": (Role.health_admin, ScopeKind.region, "330000"),
    "regulator": (Role.regulator, ScopeKind.platform, ""),
    "city_officer": (Role.city_officer, ScopeKind.jurisdiction, "330100"),
}
# (role, action, record) allowed; everything else must be 403. "own" is a Zhejiang hospital the
# hospital_admin runs; "other" is a Jiangsu hospital outside both scopes.
ALLOWED = {
    ("hospital_admin", "departments", "own"),
    ("hospital_admin", "doctor", "own"),
    ("hospital_admin", "pharmacist", "own"),
    ("health_admin", "status", "own"),
    ("health_admin", "departments", "own"),
}


def _request(action: str, hospital_id: int) -> tuple[str, str, dict[str, Any]]:
    if action == "status":
        return "PATCH", f"/api/care/hospitals/{hospital_id}", {"status": "suspended"}
    if action == "departments":
        return "POST", f"/api/care/hospitals/{hospital_id}/departments", {"department_codes": ["ent"]}
    if action == "doctor":
        body = {
            "real_name": "矩阵医生",
            "licence_no": f"MX-D-{hospital_id:06d}",
            "title": "主治医师",
            "independent_practice_since": "2010-01-01",
            "hospital_id": hospital_id,
            "department_codes": ["respiratory"],
        }
        return "POST", "/api/care/doctors", body
    return (
        "POST",
        "/api/care/pharmacists",
        {"real_name": "矩阵药师", "licence_no": f"MX-P-{hospital_id:06d}", "hospital_id": hospital_id},
    )


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("action", ["status", "departments", "doctor", "pharmacist"])
@pytest.mark.parametrize("record", ["own", "other"])
async def test_access_matrix_over_http(
    client: httpx.AsyncClient, db: Database, settings: Settings, role: str, action: str, record: str
) -> None:
    own = await make_hospital(db, city_adcode="330100")
    other = await make_hospital(db, city_adcode="320100")
    role_value, kind, scope = ROLES[role]
    headers = await _headers(db, settings, role_value, kind, scope.format(own=own))
    method, path, body = _request(action, own if record == "own" else other)
    response = await client.request(method, path, json=body, headers=headers)
    if (role, action, record) in ALLOWED:
        assert response.status_code in (200, 201), response.text
    else:
        _error(response, 403, "forbidden")


async def test_the_regulator_sees_unlisted_hospitals_but_a_patient_may_not_ask(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await make_hospital(db)
    suspended = await make_hospital(db, status="suspended")
    regulator = await _headers(db, settings, Role.regulator)
    seen = await client.get("/api/care/hospitals", params={"include_unlisted": "true"}, headers=regulator)
    assert seen.json()["total"] == 2
    assert (await client.get(f"/api/care/hospitals/{suspended}", headers=regulator)).json()["listed"] is False
    patient = await _headers(db, settings, Role.patient)
    _error(
        await client.get("/api/care/hospitals", params={"include_unlisted": "true"}, headers=patient),
        403,
        "forbidden",
    )
