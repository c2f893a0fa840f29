"""POST /api/care/triage and friends: the four patient questions end to end, refusals, storage, the gate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regio.care.triage import errors, service
from regio.care.triage.models import TriageAssessment
from regio.config import Settings
from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.triage import cases
from tests.care.triage.conftest import Family
from tests.factories import token_headers


async def post(
    client: httpx.AsyncClient, settings: Settings, family: Family, body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/api/care/triage", json=body, headers=token_headers(settings, family.user))


async def count_assessments(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(TriageAssessment))).scalar_one())


@pytest.mark.parametrize(
    ("body", "department", "urgency", "go_offline", "advice"),
    [
        (cases.ADULT_FEVER_4_DAYS, "fever_clinic", "high", False, "in_person_today"),
        (cases.PREGNANT_ANTIPYRETIC, "obstetrics", "routine", False, "medication_advice"),
        (cases.LISTLESS_CHILD, "pediatrics", "emergency", True, "emergency_now"),
        (cases.PARENT_REPEAT_PRESCRIPTION, "cardiology", "routine", False, "follow_up_visit"),
    ],
    ids=["adult-fever-4-days", "pregnant-antipyretic", "listless-child", "parents-repeat-prescription"],
)
async def test_the_four_patient_questions(
    client: httpx.AsyncClient,
    settings: Settings,
    family: Family,
    body: dict[str, Any],
    department: str,
    urgency: str,
    go_offline: bool,
    advice: str,
) -> None:
    response = await post(client, settings, family, body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert (answer["department"], answer["urgency"], answer["go_offline"], answer["advice"]) == (
        department,
        urgency,
        go_offline,
        advice,
    )
    assert answer["online_allowed"] is (not go_offline)
    assert answer["reasons"] and all(reason["text_zh"] and reason["text_en"] for reason in answer["reasons"])


async def test_an_assessment_is_stored_with_its_rule_version_and_audited(
    client: httpx.AsyncClient, settings: Settings, family: Family, db: Database
) -> None:
    body = {**cases.LISTLESS_CHILD, "patient_id": family.child_id}
    answer = (await post(client, settings, family, body)).json()
    async with db.session() as session:
        row = await session.get(TriageAssessment, answer["id"])
        assert row is not None
        assert (row.patient_id, row.asked_by_user_id, row.go_offline) == (
            family.child_id,
            family.user.id,
            True,
        )
        assert row.rules_version == service.rules_in_force().version
        assert row.red_flags == ["RF-CHILD-LETHARGY"]
        audited = (
            (
                await session.execute(
                    select(AuditEntry.action).where(
                        AuditEntry.object_type == "triage_assessment", AuditEntry.object_id == str(row.id)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert audited == ["triage.assess"]


async def test_unknown_codes_get_a_422_naming_them_and_nothing_is_stored(
    client: httpx.AsyncClient, settings: Settings, family: Family, db: Database
) -> None:
    response = await post(client, settings, family, {**cases.ADULT, "symptoms": ["cough", "zombie_bite"]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "triage_unknown_codes"
    assert error["details"]["unknown"] == ["zombie_bite"]
    assert "zombie_bite" in error["message_zh"] and "zombie_bite" in error["message_en"]
    assert await count_assessments(db) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"age_years": 30, "sex": "male", "pregnant": True}, "triage_contradictory"),
        ({**cases.ADULT, "temperature_c": 47.5}, "triage_value_out_of_range"),
        ({**cases.ADULT, "spo2": 120}, "triage_value_out_of_range"),
        ({"sex": "female"}, "triage_age_required"),
        ({**cases.ADULT, "temperature_c": "hot"}, "validation_error"),
        ({**cases.ADULT, "sex": "dragon"}, "validation_error"),
        ({**cases.ADULT, "mood": "fine"}, "validation_error"),
    ],
)
async def test_bad_answers_get_a_422_with_a_stable_code(
    client: httpx.AsyncClient,
    settings: Settings,
    family: Family,
    db: Database,
    body: dict[str, Any],
    code: str,
) -> None:
    response = await post(client, settings, family, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert await count_assessments(db) == 0


async def test_an_infant_is_given_in_months(
    client: httpx.AsyncClient, settings: Settings, family: Family
) -> None:
    body = {"age_months": 2, "sex": "male", "temperature_c": 38.1, "fever_days": 1, "symptoms": ["fever"]}
    answer = (await post(client, settings, family, body)).json()
    assert answer["go_offline"] is True and answer["red_flags"] == ["RF-INFANT-FEVER"]


async def test_the_code_list_is_published_with_both_languages(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/care/triage/codes")
    assert response.status_code == 200
    listing = response.json()
    symptoms = {item["code"]: item for item in listing["symptoms"]}
    for code in (
        "fever",
        "cough",
        "sore_throat",
        "chest_pain",
        "breathing_difficulty",
        "lethargy",
        "medication_refill",
    ):
        assert symptoms[code]["zh"] and symptoms[code]["en"]
    assert {"hypertension", "diabetes"} <= {item["code"] for item in listing["chronic_conditions"]}
    assert listing["rules_version"] == service.rules_in_force().version


async def test_triage_needs_a_signed_in_person(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/care/triage", json=cases.ADULT_FEVER_4_DAYS)
    assert response.status_code == 401


async def test_triage_for_a_patient_one_may_not_act_for_is_refused(
    client: httpx.AsyncClient, settings: Settings, family: Family, other_family: Family, db: Database
) -> None:
    response = await post(client, settings, other_family, {**cases.ADULT, "patient_id": family.child_id})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_bound_to_patient"
    assert await count_assessments(db) == 0


# ---- the gate later steps call ----------------------------------------------------------------------------


async def _assess(client: httpx.AsyncClient, settings: Settings, family: Family, body: dict[str, Any]) -> int:
    response = await post(client, settings, family, body)
    assert response.status_code == 201
    return int(response.json()["id"])


async def test_online_care_is_refused_for_a_red_flag_and_allowed_otherwise(
    client: httpx.AsyncClient, settings: Settings, family: Family, db: Database
) -> None:
    red = await _assess(client, settings, family, cases.LISTLESS_CHILD)
    fine = await _assess(client, settings, family, cases.ADULT_FEVER_4_DAYS)
    async with db.session() as session:
        with pytest.raises(errors.GoOffline) as refused:
            await service.require_online_allowed(session, principal=family.principal, assessment_id=red)
        assert refused.value.status == 409 and refused.value.code == "triage_go_offline"
        await service.require_online_allowed(session, principal=family.principal, assessment_id=fine)


async def test_the_gate_does_not_accept_someone_elses_assessment(
    client: httpx.AsyncClient, settings: Settings, family: Family, other_family: Family, db: Database
) -> None:
    fine = await _assess(client, settings, family, cases.ADULT_FEVER_4_DAYS)
    async with db.session() as session:
        with pytest.raises(errors.AssessmentNotFound):
            await service.require_online_allowed(
                session, principal=other_family.principal, assessment_id=fine
            )
        with pytest.raises(errors.AssessmentNotFound):
            await service.require_online_allowed(
                session, principal=family.principal, assessment_id=fine + 1000
            )


async def test_a_retried_assessment_is_stored_once(
    client: httpx.AsyncClient, settings: Settings, family: Family, db: Database
) -> None:
    headers = {**token_headers(settings, family.user), "Idempotency-Key": "triage-retry-1"}
    first = await client.post("/api/care/triage", json=cases.LISTLESS_CHILD, headers=headers)
    again = await client.post("/api/care/triage", json=cases.LISTLESS_CHILD, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert await count_assessments(db) == 1
