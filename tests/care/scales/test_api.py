"""The scales API: the catalog, FHIR shapes, scoring a response, refusals, and a new scale added as a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regio.care.scales.models import ScaleResponse
from regio.config import Settings
from regio.core.audit import AuditEntry
from regio.core.db import Database
from tests.care.scales.conftest import Family
from tests.factories import token_headers

ITEM9 = [1, 1, 1, 1, 1, 1, 1, 1, 1]


async def submit(
    client: httpx.AsyncClient,
    settings: Settings,
    family: Family,
    answers: list[int],
    scale: str = "phq9",
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/care/scales/{scale}/responses",
        json={"answers": answers, **extra},
        headers=token_headers(settings, family.user),
    )


async def count_responses(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(ScaleResponse))).scalar_one())


async def test_scales_are_listed_and_served_as_fhir_questionnaires(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/api/care/scales")).json()
    assert {scale["id"] for scale in listing} >= {"phq9", "gad7"}
    phq9 = (await client.get("/api/care/scales/phq9")).json()
    questionnaire = phq9["questionnaire"]
    assert questionnaire["resourceType"] == "Questionnaire"
    assert questionnaire["code"] == [
        {"system": "http://loinc.org", "code": "44249-1", "display": phq9["title_en"]}
    ]
    assert [item["linkId"] for item in questionnaire["item"]] == [str(n) for n in range(1, 10)]
    assert questionnaire["item"][0]["text"] == "做事时提不起劲或没有兴趣"
    english = (await client.get("/api/care/scales/gad7?lang=en")).json()["questionnaire"]
    assert english["code"][0]["code"] == "69737-5"
    assert english["item"][0]["text"] == "Feeling nervous, anxious, or on edge"
    assert [o["valueCoding"]["display"] for o in english["item"][0]["answerOption"]] == [
        "Not at all",
        "Several days",
        "More than half the days",
        "Nearly every day",
    ]
    assert (await client.get("/api/care/scales/who5")).json()["error"]["code"] == "scale_unknown"


async def test_a_response_is_scored_for_the_users_own_record_by_default(
    client: httpx.AsyncClient, settings: Settings, family: Family
) -> None:
    response = await submit(client, settings, family, [2, 2, 1, 1, 1, 1, 1, 1, 0])
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["score"], result["severity"], result["urgent"]) == (10, "moderate", False)
    assert result["severity_label"] == "中度抑郁" and result["severity_label_en"] == "Moderate depression"
    assert result["patient_id"] == family.self_id
    assert result["crisis_hotlines"] == [] and result["alert_id"] is None


async def test_item_9_above_0_shows_the_crisis_hotlines_at_once(
    client: httpx.AsyncClient, settings: Settings, family: Family
) -> None:
    result = (await submit(client, settings, family, ITEM9)).json()
    assert result["urgent"] is True
    assert {"400-161-9995", "010-82951332", "12356"} <= {line["number"] for line in result["crisis_hotlines"]}
    assert result["flags"][0]["code"] == "self_harm_thoughts"


async def test_the_stored_result_is_a_fhir_questionnaire_response(
    client: httpx.AsyncClient, settings: Settings, family: Family
) -> None:
    answers = [0, 1, 2, 3, 0, 1, 2, 3, 0]
    made = (await submit(client, settings, family, answers, patient_id=family.child_id)).json()
    resource = (await client.get(made["resource_url"], headers=token_headers(settings, family.user))).json()
    assert resource["resourceType"] == "QuestionnaireResponse"
    assert resource["id"] == str(made["id"])
    assert resource["questionnaire"] == "http://loinc.org/q/44249-1"
    assert resource["status"] == "completed"
    assert resource["subject"] == {"reference": f"Patient/{family.child_id}"}
    assert resource["authored"].endswith("Z")
    assert [(item["linkId"], item["answer"]) for item in resource["item"]] == [
        (str(n + 1), [{"valueInteger": value}]) for n, value in enumerate(answers)
    ]


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        ([0] * 8, "scale_wrong_answer_count"),
        ([0] * 10, "scale_wrong_answer_count"),
        ([0, 0, 0, 4, 0, 0, 0, 0, 0], "scale_answer_out_of_range"),
        ([0, 0, 0, 0, 0, 0, 0, 0, -1], "scale_answer_out_of_range"),
        (["a"] * 9, "validation_error"),
    ],
)
async def test_bad_answers_get_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient, settings: Settings, family: Family, db: Database, answers: list[Any], code: str
) -> None:
    response = await submit(client, settings, family, answers)
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == code and body["message_zh"] and body["message_en"]
    assert await count_responses(db) == 0


async def test_answering_for_someone_one_may_not_act_for_is_refused(
    client: httpx.AsyncClient, settings: Settings, family: Family, other_family: Family, db: Database
) -> None:
    response = await submit(client, settings, other_family, [0] * 9, patient_id=family.child_id)
    assert response.status_code == 403
    assert await count_responses(db) == 0


async def test_a_response_is_audited_as_health_data(
    client: httpx.AsyncClient, settings: Settings, family: Family, db: Database
) -> None:
    made = (await submit(client, settings, family, [0] * 9)).json()
    await client.get(made["resource_url"], headers=token_headers(settings, family.user))
    async with db.session() as session:
        actions = (
            (
                await session.execute(
                    select(AuditEntry.action)
                    .where(
                        AuditEntry.object_type == "scale_response", AuditEntry.object_id == str(made["id"])
                    )
                    .order_by(AuditEntry.id)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["scale_response.create", "scale_response.read"]


WHO5_LIKE = {
    "id": "mood2",
    "version": "0.1",
    "url": "urn:regio:test:mood2",
    "title_zh": "两题情绪筛查（测试）",
    "title_en": "Two-item mood screen (test)",
    "source": "test fixture",
    "intro_zh": "过去两周：",
    "intro_en": "Over the last two weeks:",
    "options": [
        {"value": 0, "zh": "否", "en": "No"},
        {"value": 1, "zh": "有时", "en": "Sometimes"},
        {"value": 2, "zh": "经常", "en": "Often"},
    ],
    "items": [
        {"linkId": "a", "zh": "心情低落", "en": "Low mood"},
        {"linkId": "b", "zh": "想伤害自己", "en": "Thoughts of self-harm"},
    ],
    "bands": [
        {"min": 0, "max": 1, "code": "minimal", "zh": "无", "en": "None"},
        {"min": 2, "max": 4, "code": "moderate", "zh": "需关注", "en": "Needs attention"},
    ],
    "flags": [
        {"code": "self_harm", "item": "b", "above": 0, "urgent": True, "zh": "请求助", "en": "Get help"}
    ],
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    folder = tmp_path / "scales"
    folder.mkdir()
    (folder / "mood2.json").write_text(json.dumps(WHO5_LIKE, ensure_ascii=False), encoding="utf-8")
    return settings.model_copy(update={"scales_extra_dir": str(folder)})


async def test_a_new_scale_is_a_data_file_not_code(
    client: httpx.AsyncClient, settings: Settings, family: Family
) -> None:
    listing = {scale["id"] for scale in (await client.get("/api/care/scales")).json()}
    assert "mood2" in listing
    assert (await submit(client, settings, family, [1, 0], scale="mood2")).json()["severity"] == "minimal"
    urgent = (await submit(client, settings, family, [2, 1], scale="mood2")).json()
    assert (urgent["score"], urgent["severity"], urgent["urgent"]) == (3, "moderate", True)
    assert urgent["crisis_hotlines"]
    wrong = await submit(client, settings, family, [1, 1, 1], scale="mood2")
    assert wrong.json()["error"]["code"] == "scale_wrong_answer_count"


async def test_without_an_own_patient_record_the_patient_must_be_named(
    client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    from regio.core.access import Role
    from tests.factories import make_user

    newcomer = await make_user(db, roles=[Role.patient])
    response = await client.post(
        "/api/care/scales/phq9/responses",
        json={"answers": [0] * 9},
        headers=token_headers(settings, newcomer),
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "scale_no_patient_record"
    assert await count_responses(db) == 0
