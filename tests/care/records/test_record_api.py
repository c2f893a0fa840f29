"""The clinical record through the API: the visit-type rule on diagnoses, signing, amendments, retention."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select

from regio.care.records import service
from regio.care.records.schemas import PolicyIn
from regio.config import Settings
from regio.core.access import Principal
from regio.core.audit import AuditEntry
from regio.core.db import Database, utcnow
from tests.care.booking.conftest import World
from tests.care.records.conftest import MakeConsultation, MakePatient, PatientUser, add_hospital_record
from tests.care.registry.helpers import health_admin, make_doctor, years_ago
from tests.factories import make_user, token_headers

URL = "/api/care/consultations/{}/record"


async def diagnose(client: httpx.AsyncClient, cid: int, code: str, headers: dict[str, str]) -> httpx.Response:
    return await client.post(URL.format(cid) + "/diagnoses", json={"code": code}, headers=headers)


async def actions(db: Database, object_id: int) -> list[str]:
    async with db.session() as session:
        result = await session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "clinical_record", AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.id)
        )
        return list(result.scalars())


# ---- the visit-type rule -------------------------------------------------------------------------------


async def test_a_follow_up_diagnosis_is_written_with_its_visit_type(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    prior_id = await add_hospital_record(db, world, patient.patient_id, "E11.9")
    cid = await make_consultation(patient)
    response = await diagnose(client, cid, "e11.2", doctor_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["decision"]["visit_type"] == "follow_up"
    assert body["decision"]["prior_id"] == prior_id
    [item] = body["record"]["versions"][0]["diagnoses"]
    assert (item["code"], item["name_zh"], item["visit_type"]) == (
        "E11.2",
        "非胰岛素依赖型糖尿病，伴有肾的并发症",
        "follow_up",
    )
    assert "record.diagnosis_added" in await actions(db, body["record"]["id"])


async def test_a_first_visit_without_a_policy_is_refused_a_diagnosis_and_nothing_is_written(
    client: httpx.AsyncClient,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    cid = await make_consultation(patient)
    response = await diagnose(client, cid, "I10", doctor_headers)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "follow_up_required"
    assert "互联网诊疗管理办法" in error["message_zh"] and "I10" in error["message_zh"]
    assert "follow-up visit" in error["message_en"]
    assert error["details"]["visit_type"] == "first_visit_advice_only"
    # no record was opened by the refused write
    assert (await client.get(URL.format(cid), headers=doctor_headers)).status_code == 404


async def test_an_upload_counts_once_the_doctor_confirms_it(
    client: httpx.AsyncClient,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
    settings: Settings,
) -> None:
    cid = await make_consultation(patient)
    patient_headers = token_headers(settings, patient.user)
    upload = await client.post(
        "/api/care/records/prior-diagnoses",
        json={
            "patient_id": patient.patient_id,
            "icd10_code": "J45.0",
            "diagnosed_on": (service.today() - timedelta(days=200)).isoformat(),
            "hospital_name": "杭州市第一人民医院",
            "source": "uploaded_record",
            "attachment_ref": "attachment:sha256:ab12",
        },
        headers=patient_headers,
    )
    assert upload.status_code == 201, upload.text
    prior_id = upload.json()["id"]
    assert upload.json()["counts"] is False
    assert (await diagnose(client, cid, "J45.9", doctor_headers)).status_code == 409

    seen = await client.get(URL.format(cid) + "/prior-diagnoses", headers=doctor_headers)
    assert [p["id"] for p in seen.json()] == [prior_id]
    confirmed = await client.post(
        URL.format(cid) + f"/prior-diagnoses/{prior_id}/confirm", headers=doctor_headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (
        confirmed.json()["counts"] is True and confirmed.json()["confirmed_by_doctor_id"] == world.doctor_id
    )
    again = await client.post(
        URL.format(cid) + f"/prior-diagnoses/{prior_id}/confirm", headers=doctor_headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "prior_already_confirmed"

    added = await diagnose(client, cid, "J45.9", doctor_headers)
    assert added.status_code == 201 and added.json()["decision"]["visit_type"] == "follow_up"


async def test_a_patient_cannot_enter_a_hospital_record_for_themself(
    client: httpx.AsyncClient, world: World, patient: PatientUser, settings: Settings
) -> None:
    response = await client.post(
        "/api/care/records/prior-diagnoses",
        json={
            "patient_id": patient.patient_id,
            "icd10_code": "I10",
            "diagnosed_on": "2025-01-01",
            "hospital_name": "某医院",
            "hospital_id": world.hospital_id,
            "source": "hospital_record",
        },
        headers=token_headers(settings, patient.user),
    )
    assert response.status_code == 403


async def test_a_regional_policy_in_force_allows_a_first_visit_diagnosis_until_its_last_day(
    client: httpx.AsyncClient,
    db: Database,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    admin = await make_user(db)
    today = service.today()
    policy = {
        "key": "zhejiang-fever-test",
        "region_adcode": "330000",
        "name_zh": "浙江省发热门诊互联网首诊（测试）",
        "name_en": "Zhejiang fever first visits (test)",
        "source": "测试用配置",
        "valid_from": (today - timedelta(days=10)).isoformat(),
        "valid_to": today.isoformat(),
        "icd10_categories": ["R50", "u07"],
        "symptom_codes": ["fever"],
    }
    async with db.session() as session:
        saved = await service.save_policy(
            session=session,
            principal=Principal(
                user_id=admin.id, username=admin.username, grants=health_admin("330000").grants
            ),
            data=PolicyIn(**policy),
        )
    assert saved.version == 1 and saved.in_force_today and saved.icd10_categories == ["R50", "U07"]
    cid = await make_consultation(patient)
    added = await diagnose(client, cid, "R50.9", doctor_headers)
    assert added.status_code == 201, added.text
    assert added.json()["decision"]["visit_type"] == "first_visit_under_policy"
    assert added.json()["decision"]["policy_key"] == "zhejiang-fever-test"
    # outside the scope the same first visit still gets advice only
    assert (await diagnose(client, cid, "E11", doctor_headers)).status_code == 409

    # version 2 ends the policy yesterday: from today the first visit gets advice only
    async with db.session() as session:
        ended = await service.save_policy(
            session=session,
            principal=health_admin("330000"),
            data=PolicyIn(**{**policy, "valid_to": (today - timedelta(days=1)).isoformat()}),
        )
    assert ended.version == 2 and not ended.in_force_today
    other = await make_consultation(patient)
    assert (await diagnose(client, other, "R50.9", doctor_headers)).status_code == 409


async def test_a_doctor_with_under_three_years_of_practice_may_not_diagnose_online(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    settings: Settings,
) -> None:
    from regio.care.registry import service as registry_service
    from regio.core.access import Role, RoleGrant, ScopeKind

    junior_id = await make_doctor(db, world.hospital_id, independent_practice_since=years_ago(2, days=-30))
    user = await make_user(db, roles=[RoleGrant(Role.doctor, ScopeKind.hospital, str(world.hospital_id))])
    async with db.session() as session:
        await registry_service.link_doctor_user(
            session=session, principal=registry_service.SYSTEM, doctor_id=junior_id, user_id=user.id
        )
    await add_hospital_record(db, world, patient.patient_id, "I10")
    cid = await make_consultation(patient, doctor_id=junior_id)
    response = await diagnose(client, cid, "I10", token_headers(settings, user))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "doctor_not_eligible_online"


async def test_only_the_consultations_doctor_writes_its_record(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    settings: Settings,
) -> None:
    await add_hospital_record(db, world, patient.patient_id, "I10")
    cid = await make_consultation(patient)
    other_doctor = await make_user(db)
    for headers in (token_headers(settings, patient.user), token_headers(settings, other_doctor)):
        assert (await diagnose(client, cid, "I10", headers)).status_code == 403
        put = await client.put(URL.format(cid), json={"notes": "x"}, headers=headers)
        assert put.status_code == 403
    assert (await client.post(URL.format(cid) + "/diagnoses", json={"code": "I10"})).status_code == 401


@pytest.mark.parametrize("status", ["waiting", "cancelled", "no_show"])
async def test_a_record_is_written_only_in_a_started_consultation(
    status: str,
    client: httpx.AsyncClient,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    cid = await make_consultation(patient, status=status)
    response = await client.put(URL.format(cid), json={"notes": "主诉"}, headers=doctor_headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "consultation_not_open"


async def test_bad_input_gets_a_4xx_with_a_stable_code(
    client: httpx.AsyncClient,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    cid = await make_consultation(patient)
    unknown = await diagnose(client, cid, "Z99.99", doctor_headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_icd10"
    symptom = await client.put(URL.format(cid), json={"symptom_codes": ["telepathy"]}, headers=doctor_headers)
    assert symptom.status_code == 422 and symptom.json()["error"]["code"] == "unknown_symptom"
    extra = await client.put(URL.format(cid), json={"notes": "x", "signed_at": "now"}, headers=doctor_headers)
    assert extra.status_code == 422
    missing = await client.get(URL.format(999_999), headers=doctor_headers)
    assert missing.status_code == 404
    huge = await client.get(URL.format(2**64), headers=doctor_headers)
    assert huge.status_code == 422


# ---- signing, locking, amending ---------------------------------------------------------------------


async def test_a_signed_version_is_locked_and_an_amendment_is_a_new_version(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    await add_hospital_record(db, world, patient.patient_id, "I10")
    cid = await make_consultation(patient)
    draft = await client.put(
        URL.format(cid), json={"notes": "血压控制可", "advice": "继续服药"}, headers=doctor_headers
    )
    assert draft.status_code == 200, draft.text
    assert (await diagnose(client, cid, "I10", doctor_headers)).status_code == 201
    signed = await client.post(URL.format(cid) + "/sign", headers=doctor_headers)
    assert signed.status_code == 200, signed.text
    v1 = signed.json()["versions"][0]
    assert v1["signed"] and len(v1["content_hash"]) == 64

    # nothing reaches a signed version through the API
    for attempt in (
        client.put(URL.format(cid), json={"notes": "改写"}, headers=doctor_headers),
        diagnose(client, cid, "I10", doctor_headers),
        client.delete(URL.format(cid) + "/diagnoses/I10", headers=doctor_headers),
        client.post(URL.format(cid) + "/sign", headers=doctor_headers),
    ):
        response = await attempt
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "record_signed"
    unchanged = (await client.get(URL.format(cid), headers=doctor_headers)).json()["versions"][0]
    assert unchanged == v1

    opened = await client.post(
        URL.format(cid) + "/amendments", json={"reason": "补充医嘱"}, headers=doctor_headers
    )
    assert opened.status_code == 201, opened.text
    v2 = opened.json()["versions"][0]
    assert (v2["version"], v2["signed"], v2["notes"], v2["amendment_reason"]) == (
        2,
        False,
        "血压控制可",
        "补充医嘱",
    )
    assert (
        await client.put(
            URL.format(cid),
            json={"notes": "血压控制可", "advice": "继续服药，低盐饮食"},
            headers=doctor_headers,
        )
    ).status_code == 200
    resigned = await client.post(URL.format(cid) + "/sign", headers=doctor_headers)
    versions = resigned.json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["advice"] == "继续服药，低盐饮食" and versions[0]["signed"]
    assert versions[1] == v1  # the first signature still stands as it was
    assert versions[0]["content_hash"] != v1["content_hash"]
    # only a signed record is amended
    await client.post(URL.format(cid) + "/amendments", json={"reason": "再次更正"}, headers=doctor_headers)
    again = await client.post(
        URL.format(cid) + "/amendments", json={"reason": "又一次"}, headers=doctor_headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "nothing_to_amend"
    record_id = resigned.json()["id"]
    trail = await actions(db, record_id)
    assert trail.count("record.signed") == 2 and "record.amendment_opened" in trail


async def test_an_edit_based_on_a_stale_revision_is_refused(
    client: httpx.AsyncClient,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    cid = await make_consultation(patient)
    empty = await client.put(URL.format(cid), json={"notes": "  "}, headers=doctor_headers)
    assert empty.status_code == 200
    refused = await client.post(URL.format(cid) + "/sign", headers=doctor_headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "record_empty"
    first = await client.put(URL.format(cid), json={"notes": "一"}, headers=doctor_headers)
    seen = first.json()["versions"][0]["revision"]
    await client.put(URL.format(cid), json={"notes": "二"}, headers=doctor_headers)
    stale = await client.put(URL.format(cid), json={"notes": "三", "revision": seen}, headers=doctor_headers)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "record_changed"
    stale_sign = await client.post(URL.format(cid) + "/sign", json={"revision": seen}, headers=doctor_headers)
    assert stale_sign.status_code == 409 and stale_sign.json()["error"]["code"] == "record_changed"
    body = (await client.get(URL.format(cid), headers=doctor_headers)).json()
    assert body["versions"][0]["notes"] == "二" and not body["versions"][0]["signed"]


# ---- reading ----------------------------------------------------------------------------------------


async def test_the_patient_side_reads_signed_versions_only_and_every_read_is_audited(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    make_patient: MakePatient,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
    settings: Settings,
) -> None:
    patient = await make_patient()
    stranger = await make_patient()
    cid = await make_consultation(patient)
    await client.put(URL.format(cid), json={"notes": "草稿"}, headers=doctor_headers)
    mine = token_headers(settings, patient.user)
    assert (await client.get(URL.format(cid), headers=mine)).status_code == 404  # nothing signed yet
    await client.post(URL.format(cid) + "/sign", headers=doctor_headers)
    await client.post(URL.format(cid) + "/amendments", json={"reason": "更正"}, headers=doctor_headers)
    seen = await client.get(URL.format(cid), headers=mine)
    assert seen.status_code == 200
    assert [v["version"] for v in seen.json()["versions"]] == [1]  # the open amendment is not shown
    history = await client.get("/api/care/records/history", headers=mine)
    assert [(h["consultation_id"], h["version"]) for h in history.json()] == [(cid, 1)]
    assert (
        await client.get(URL.format(cid), headers=token_headers(settings, stranger.user))
    ).status_code == 404
    assert (
        await client.get("/api/care/records/history", headers=token_headers(settings, stranger.user))
    ).json() == []
    trail = await actions(db, seen.json()["id"])
    assert "record.read" in trail and "record.list" not in trail  # list entries carry no single object
    async with db.session() as session:
        listed = await session.execute(select(AuditEntry).where(AuditEntry.action == "record.list"))
        entry = listed.scalar_one()
        assert entry.actor_user_id == patient.user.id and entry.details["record_ids"] == [seen.json()["id"]]


async def test_the_hospitals_quality_control_reads_signed_records_of_its_hospital(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
    settings: Settings,
) -> None:
    from regio.core.access import Role, RoleGrant, ScopeKind

    cid = await make_consultation(patient)
    await client.put(URL.format(cid), json={"notes": "质控可见"}, headers=doctor_headers)
    await client.post(URL.format(cid) + "/sign", headers=doctor_headers)
    own = await make_user(
        db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(world.hospital_id))]
    )
    other = await make_user(db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, "99999")])
    assert (await client.get(URL.format(cid), headers=token_headers(settings, own))).status_code == 200
    assert (await client.get(URL.format(cid), headers=token_headers(settings, other))).status_code == 404


# ---- retention -------------------------------------------------------------------------------------


async def test_deleting_a_record_within_15_years_is_refused_with_the_earliest_date(
    client: httpx.AsyncClient,
    db: Database,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
    settings: Settings,
) -> None:
    from regio.core.access import Role

    cid = await make_consultation(patient, status="completed")
    await client.put(URL.format(cid), json={"notes": "留存"}, headers=doctor_headers)
    await client.post(URL.format(cid) + "/sign", headers=doctor_headers)
    admin = await make_user(db, roles=[Role.platform_admin])
    for headers in (doctor_headers, token_headers(settings, admin)):
        response = await client.delete(URL.format(cid), headers=headers)
        assert response.status_code == 409
        error = response.json()["error"]
        today = service.today()
        earliest = (
            today.replace(year=today.year + 15)
            if (today.month, today.day) != (2, 29)
            else date(today.year + 15, 3, 1)
        )
        assert error["code"] == "retention_period"
        assert error["details"]["earliest"] == earliest.isoformat()
        assert earliest.isoformat() in error["message_zh"] and "15" in error["message_en"]
    assert (await client.get(URL.format(cid), headers=doctor_headers)).status_code == 200
    record_id = (await client.get(URL.format(cid), headers=doctor_headers)).json()["id"]
    assert (await actions(db, record_id)).count("record.delete_refused") == 2


async def test_after_15_years_only_the_platform_admin_deletes_a_record(
    client: httpx.AsyncClient,
    db: Database,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
    settings: Settings,
) -> None:
    from regio.core.access import Role

    long_ago = utcnow() - timedelta(days=366 * 15 + 5)
    cid = await make_consultation(patient, status="completed", completed_at=long_ago)
    await client.put(URL.format(cid), json={"notes": "旧病历"}, headers=doctor_headers)
    refused = await client.delete(URL.format(cid), headers=doctor_headers)
    assert refused.status_code == 403
    admin = await make_user(db, roles=[Role.platform_admin])
    deleted = await client.delete(URL.format(cid), headers=token_headers(settings, admin))
    assert deleted.status_code == 204
    assert (await client.get(URL.format(cid), headers=doctor_headers)).status_code == 404


# ---- reference data --------------------------------------------------------------------------------


async def test_icd10_search_by_code_prefix_and_chinese_name(
    client: httpx.AsyncClient, doctor_headers: dict[str, str]
) -> None:
    by_code = await client.get("/api/care/records/icd10", params={"q": "j06"}, headers=doctor_headers)
    assert [e["code"] for e in by_code.json()] == ["J06", "J06.9"]
    by_name = await client.get("/api/care/records/icd10", params={"q": "高血压"}, headers=doctor_headers)
    codes = [e["code"] for e in by_name.json()]
    assert {"I10", "I15", "O13"} <= set(codes)
    covid = await client.get("/api/care/records/icd10", params={"q": "U07.1"}, headers=doctor_headers)
    assert covid.json()[0]["code"] == "U07.1" and "新型冠状病毒" in covid.json()[0]["name_zh"]
    assert (await client.get("/api/care/records/icd10", params={"q": "j06"})).status_code == 401


async def test_health_admins_list_the_shipped_first_visit_policies(
    client: httpx.AsyncClient, db: Database, settings: Settings, patient: PatientUser
) -> None:
    from regio.core.access import Role, RoleGrant, ScopeKind

    admin = await make_user(db, roles=[RoleGrant(Role.health_admin, ScopeKind.region, "350000")])
    listed = await client.get(
        "/api/care/records/first-visit-policies", headers=token_headers(settings, admin)
    )
    assert listed.status_code == 200
    fujian = next(p for p in listed.json() if p["key"] == "fujian-covid19-2023")
    assert (fujian["valid_from"], fujian["region_adcode"], fujian["from_file"]) == (
        "2023-01-08",
        "350000",
        True,
    )
    assert "U07" in fujian["icd10_categories"] and "居家治疗指南" in fujian["source"]
    again = await client.get("/api/care/records/first-visit-policies", headers=token_headers(settings, admin))
    assert len(again.json()) == len(listed.json())  # loading the file twice adds nothing
    denied = await client.get(
        "/api/care/records/first-visit-policies", headers=token_headers(settings, patient.user)
    )
    assert denied.status_code == 403
    other_region = await client.post(
        "/api/care/records/first-visit-policies",
        json={
            "key": "zj-test",
            "region_adcode": "330000",
            "name_zh": "测试",
            "source": "测试",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "icd10_categories": ["R50"],
        },
        headers=token_headers(settings, admin),
    )
    assert other_region.status_code == 403
    backwards = await client.post(
        "/api/care/records/first-visit-policies",
        json={
            "key": "fj-test",
            "region_adcode": "350000",
            "name_zh": "测试",
            "source": "测试",
            "valid_from": "2026-12-31",
            "valid_to": "2026-01-01",
            "icd10_categories": ["R50"],
        },
        headers=token_headers(settings, admin),
    )
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_first_visit_policy"


async def test_the_doctor_checks_the_visit_type_edits_diagnoses_and_sees_the_prescribing_decision(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    patient: PatientUser,
    make_patient: MakePatient,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
    settings: Settings,
) -> None:
    from tests.care.patients.idgen import years_ago as born_years_ago

    child = await make_patient(born=born_years_ago(3), child_of=patient)
    await add_hospital_record(db, world, child.patient_id, "J30")
    cid = await make_consultation(child)
    checked = await client.post(
        URL.format(cid) + "/visit-type", json={"code": "J30.4"}, headers=doctor_headers
    )
    assert checked.status_code == 200 and checked.json()["visit_type"] == "follow_up"
    other = await client.post(URL.format(cid) + "/visit-type", json={"code": "L20"}, headers=doctor_headers)
    assert other.json()["visit_type"] == "first_visit_advice_only" and not other.json()["allows_diagnosis"]

    await diagnose(client, cid, "J30.4", doctor_headers)
    await diagnose(client, cid, "J30", doctor_headers)
    removed = await client.delete(URL.format(cid) + "/diagnoses/j30", headers=doctor_headers)
    assert [d["code"] for d in removed.json()["versions"][0]["diagnoses"]] == ["J30.4"]

    rx = await client.get(URL.format(cid) + "/prescribing", headers=doctor_headers)
    assert rx.status_code == 200
    assert not rx.json()["allowed"]
    assert [r["code"] for r in rx.json()["reasons"]] == ["guardian_absent", "specialist_absent"]
    attended = await client.put(
        URL.format(cid) + "/attendance",
        json={"guardian_present": True, "specialist_present": True, "specialist_name": "儿科 李医生"},
        headers=doctor_headers,
    )
    assert attended.status_code == 200 and attended.json()["patient_under_six"] is True
    assert (await client.get(URL.format(cid) + "/prescribing", headers=doctor_headers)).json()[
        "allowed"
    ] is True
    denied = await client.get(URL.format(cid) + "/prescribing", headers=token_headers(settings, patient.user))
    assert denied.status_code == 403


async def test_a_draft_edit_keeps_the_fields_it_leaves_out(
    client: httpx.AsyncClient,
    patient: PatientUser,
    make_consultation: MakeConsultation,
    doctor_headers: dict[str, str],
) -> None:
    cid = await make_consultation(patient)
    await client.put(URL.format(cid), json={"notes": "咳嗽三天", "advice": "多休息"}, headers=doctor_headers)
    answer = await client.put(
        URL.format(cid), json={"symptom_codes": ["cough", "fever", "cough"]}, headers=doctor_headers
    )
    body = answer.json()
    assert body["symptom_codes"] == ["cough", "fever"]
    assert (body["versions"][0]["notes"], body["versions"][0]["advice"]) == ("咳嗽三天", "多休息")
