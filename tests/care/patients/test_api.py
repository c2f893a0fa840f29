"""The patients JSON API: status codes, error shapes, masking, consent flow, audit, no partial writes."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from regio.config import Settings
from regio.core.access import Role
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.sms import MemorySmsGateway
from tests.care.patients.conftest import grant_for, row_counts
from tests.care.patients.idgen import make_id_number, years_ago
from tests.factories import make_user, token_headers

ID = make_id_number(area="330106", birth=date(1988, 8, 8), sequence="61", sex_digit=7)
PARENT_ID = make_id_number(area="330104", birth=date(1958, 2, 14), sequence="62", sex_digit=8)
CHILD_ID = make_id_number(area="330106", birth=years_ago(3), sequence="63", sex_digit=5)
PHONE = "13712345678"
URL = "/api/care/patients"


async def signed_in(
    db: Database, settings: Settings, role: Role = Role.patient
) -> tuple[int, dict[str, str]]:
    user = await make_user(db, roles=[grant_for(role)])
    return user.id, token_headers(settings, user)


def body(
    id_number: str = ID, *, phone: str = PHONE, relation: str | None = None, name: str = "王五"
) -> dict[str, str]:
    data = {"name": name, "id_number": id_number, "phone": phone}
    if relation:
        data["relation"] = relation
    return data


async def test_registering_oneself_answers_201_with_masked_numbers_only(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, headers = await signed_in(db, settings)
    response = await client.post(URL, json=body(), headers=headers)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["patient"]["id_number_masked"] == ID[:6] + "********" + ID[-4:]
    assert answer["patient"]["phone_masked"] == "137****5678"
    assert answer["patient"]["sex"] == "male"
    assert answer["binding"]["relation"] == "self"
    assert answer["binding"]["status"] == "active"
    assert ID not in response.text and PHONE not in response.text
    assert "birth_date" not in answer["patient"]  # it would unmask digits 7–14


async def test_a_bad_number_is_422_invalid_id_number_with_its_reason_in_both_languages(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, headers = await signed_in(db, settings)
    wrong_check = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    response = await client.post(URL, json=body(wrong_check), headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_id_number"
    assert error["details"]["reason"] == "check_digit"
    assert error["message_zh"] and error["message_en"] and error["message_zh"] != error["message_en"]
    assert await row_counts(db) == (0, 0)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (body(phone="12345"), "invalid_phone"),
        (body("330106"), "invalid_id_number"),
        (body(name=""), "invalid_name"),
        ({"name": "王五", "id_number": ID}, "validation_error"),
        ({**body(), "relation": "cousin"}, "validation_error"),
        ({**body(), "id_number": 330106198808086171}, "validation_error"),
        ({**body(), "extra": "field"}, "validation_error"),
    ],
)
async def test_bad_input_is_a_clear_422_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings, payload: dict[str, object], code: str
) -> None:
    _, headers = await signed_in(db, settings)
    response = await client.post(URL, json=payload, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert await row_counts(db) == (0, 0)


async def test_a_malformed_json_body_is_422_not_500(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, headers = await signed_in(db, settings)
    response = await client.post(
        URL, content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert await row_counts(db) == (0, 0)


async def test_registering_someone_already_registered_is_409_pointing_to_a_binding_request(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, first = await signed_in(db, settings)
    _, second = await signed_in(db, settings)
    assert (await client.post(URL, json=body(), headers=first)).status_code == 201
    before = await row_counts(db)
    response = await client.post(URL, json=body(relation="spouse"), headers=second)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "patient_exists"
    assert error["details"]["next_step"] == "request_binding"
    assert error["details"]["endpoint"] == "/api/care/patients/bindings"
    assert ID not in response.text
    assert await row_counts(db) == before


async def test_two_concurrent_registrations_of_one_number_give_one_201_and_one_409(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, first = await signed_in(db, settings)
    _, second = await signed_in(db, settings)
    responses = await asyncio.gather(
        client.post(URL, json=body(relation="other"), headers=first),
        client.post(URL, json=body(relation="other"), headers=second),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert await row_counts(db) == (1, 1)


async def test_the_consent_flow_through_the_api(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    father_id, father = await signed_in(db, settings)
    _, son = await signed_in(db, settings)
    father_patient = (await client.post(URL, json=body(PARENT_ID), headers=father)).json()["patient"]["id"]

    asked = await client.post(
        f"{URL}/bindings", json={"id_number": PARENT_ID, "relation": "parent"}, headers=son
    )
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert request["status"] == "recorded"
    assert set(request) == {"request_id", "status", "message_zh", "message_en"}  # nothing about the person

    assert (await client.get(f"{URL}/{father_patient}", headers=son)).status_code == 403
    waiting = (await client.get(f"{URL}/bindings", headers=father)).json()
    [incoming] = waiting["incoming"]
    assert incoming["patient_name"] == "王五"
    binding_id = incoming["binding"]["id"]
    outgoing = (await client.get(f"{URL}/bindings", headers=son)).json()["outgoing"]
    assert [item["request_id"] for item in outgoing] == [request["request_id"]]

    assert (await client.post(f"{URL}/bindings/{binding_id}/accept", headers=son)).status_code == 403
    accepted = await client.post(f"{URL}/bindings/{binding_id}/accept", headers=father)
    assert accepted.status_code == 200
    assert accepted.json()["accepted_by_user_id"] == father_id

    listed = (await client.get(URL, headers=son)).json()["items"]
    assert [(i["patient"]["id"], i["binding"]["relation"]) for i in listed] == [(father_patient, "parent")]
    assert (await client.get(f"{URL}/{father_patient}", headers=son)).status_code == 200
    # bound, but an adult's clear numbers are for that adult alone
    assert (await client.post(f"{URL}/{father_patient}/reveal", headers=son)).status_code == 403

    ended = await client.delete(f"{URL}/bindings/{binding_id}", headers=son)
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended"
    assert (await client.get(URL, headers=son)).json()["items"] == []
    again = await client.delete(f"{URL}/bindings/{binding_id}", headers=son)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "binding_already_ended"
    assert await row_counts(db) == (1, 2)  # history kept


async def test_a_binding_request_answers_alike_for_a_registered_and_an_unknown_number(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, owner = await signed_in(db, settings)
    _, prober = await signed_in(db, settings)
    assert (await client.post(URL, json=body(), headers=owner)).status_code == 201
    known = await client.post(f"{URL}/bindings", json={"id_number": ID, "relation": "spouse"}, headers=prober)
    unknown = await client.post(
        f"{URL}/bindings", json={"id_number": PARENT_ID, "relation": "spouse"}, headers=prober
    )
    assert (known.status_code, unknown.status_code) == (202, 202)
    strip = {"request_id"}
    assert {k: v for k, v in known.json().items() if k not in strip} == {
        k: v for k, v in unknown.json().items() if k not in strip
    }
    outgoing = (await client.get(f"{URL}/bindings", headers=prober)).json()["outgoing"]
    assert [set(item) for item in outgoing] == [{"request_id", "relation", "requested_at"}] * 2
    bad = await client.post(
        f"{URL}/bindings", json={"id_number": "330106", "relation": "spouse"}, headers=prober
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_id_number"
    self_claim = await client.post(
        f"{URL}/bindings", json={"id_number": ID, "relation": "self"}, headers=prober
    )
    assert self_claim.status_code == 422 and self_claim.json()["error"]["code"] == "claim_required"


async def test_binding_requests_and_registrations_past_twenty_an_hour_get_429(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, headers = await signed_in(db, settings)
    assert (await client.post(URL, json=body(), headers=headers)).status_code == 201  # counts too
    numbers = [make_id_number(area="330106", birth=date(1970, 1, 1), sequence=f"{n:02d}") for n in range(24)]
    responses = await asyncio.gather(
        *(
            client.post(f"{URL}/bindings", json={"id_number": number, "relation": "other"}, headers=headers)
            for number in numbers
        )
    )
    codes = sorted(response.status_code for response in responses)
    assert codes == [202] * 19 + [429] * 5, codes
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert refused.json()["error"]["message_zh"] and refused.json()["error"]["message_en"]
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    again = await client.post(URL, json=body(PARENT_ID, relation="parent"), headers=headers)
    assert again.status_code == 429
    assert await row_counts(db) == (1, 1)  # the refused registration wrote nothing


async def test_registering_an_adult_relative_sends_them_a_consent_code_and_binds_on_it(
    client: httpx.AsyncClient, db: Database, settings: Settings, app_sms: MemorySmsGateway
) -> None:
    _, headers = await signed_in(db, settings)
    registered = await client.post(
        URL, json=body(PARENT_ID, phone="13655556666", relation="parent"), headers=headers
    )
    assert registered.status_code == 201, registered.text
    answer = registered.json()
    assert answer["binding"]["status"] == "pending"
    assert answer["consent"]["phone_masked"] == "136****6666"
    assert (await client.get(URL, headers=headers)).json()["items"] == []
    code = app_sms.last_code("13655556666")
    assert code is not None
    confirm_url = f"{URL}/claims/{answer['consent']['claim_id']}/confirm"
    wrong = await client.post(confirm_url, json={"code": f"{(int(code) + 1) % 10**6:06d}"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_code"
    assert wrong.json()["error"]["details"]["attempts_left"] == 4
    done = await client.post(confirm_url, json={"code": code}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["purpose"] == "consent" and done.json()["binding"]["status"] == "active"
    assert [i["binding"]["relation"] for i in (await client.get(URL, headers=headers)).json()["items"]] == [
        "parent"
    ]


async def test_claiming_ones_record_through_the_api(
    client: httpx.AsyncClient, db: Database, settings: Settings, app_sms: MemorySmsGateway
) -> None:
    _, daughter = await signed_in(db, settings)
    father_id, father = await signed_in(db, settings)
    await client.post(URL, json=body(PARENT_ID, phone="13655556666", relation="parent"), headers=daughter)
    started = await client.post(
        f"{URL}/claims", json={"id_number": PARENT_ID, "phone": "136 5555 6666"}, headers=father
    )
    assert started.status_code == 202, started.text
    assert started.json()["phone_masked"] == "136****6666"
    assert started.headers["cache-control"] == "no-store"
    nobody = await client.post(
        f"{URL}/claims", json={"id_number": ID, "phone": "13655556666"}, headers=father
    )
    assert nobody.status_code == 202 and set(nobody.json()) == set(started.json())
    code = app_sms.last_code("13655556666")
    done = await client.post(
        f"{URL}/claims/{started.json()['claim_id']}/confirm", json={"code": code}, headers=father
    )
    assert done.status_code == 200, done.text
    assert done.json()["binding"]["user_id"] == father_id and done.json()["binding"]["relation"] == "self"
    patient_id = done.json()["patient"]["id"]
    revealed = await client.post(f"{URL}/{patient_id}/reveal", headers=father)
    assert revealed.json()["id_number"] == PARENT_ID
    reused = await client.post(
        f"{URL}/claims/{started.json()['claim_id']}/confirm", json={"code": code}, headers=father
    )
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "code_expired"


async def test_every_patients_answer_is_marked_no_store(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, headers = await signed_in(db, settings)
    created = await client.post(URL, json=body(), headers=headers)
    patient_id = created.json()["patient"]["id"]
    for response in (
        created,
        await client.get(URL, headers=headers),
        await client.get(f"{URL}/{patient_id}", headers=headers),
        await client.get(f"{URL}/bindings", headers=headers),
    ):
        assert response.status_code < 300 and response.headers["cache-control"] == "no-store"


async def test_a_family_list_flags_a_child_under_six(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, headers = await signed_in(db, settings)
    await client.post(URL, json=body(), headers=headers)
    child = await client.post(URL, json=body(CHILD_ID, relation="child", name="王小六"), headers=headers)
    assert child.status_code == 201
    assert child.json()["binding"]["is_guardian"] is True
    items = (await client.get(URL, headers=headers)).json()["items"]
    assert [(i["binding"]["relation"], i["patient"]["needs_guardian_presence"]) for i in items] == [
        ("self", False),
        ("child", True),
    ]
    assert items[1]["patient"]["age"] == 3


async def test_reveal_gives_clear_values_to_the_person_uncached_and_lands_on_the_audit_trail(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    user_id, headers = await signed_in(db, settings)
    _, stranger = await signed_in(db, settings)
    patient_id = (await client.post(URL, json=body(), headers=headers)).json()["patient"]["id"]
    response = await client.post(f"{URL}/{patient_id}/reveal", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"patient_id": patient_id, "id_number": ID, "phone": PHONE}
    assert response.headers["cache-control"] == "no-store"
    assert (await client.post(f"{URL}/{patient_id}/reveal", headers=stranger)).status_code == 403
    async with db.session() as session:
        entries = (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
    reveals = [e for e in entries if e.action == "patient.reveal"]
    assert [(e.actor_user_id, e.object_id) for e in reveals] == [(user_id, str(patient_id))]
    assert {"patient.register", "patient.reveal"} <= {e.action for e in entries}
    for entry in entries:
        assert ID not in str(entry.details) and PHONE not in str(entry.details)


@pytest.mark.parametrize("role", [Role.doctor, Role.pharmacist, Role.health_admin, Role.regulator])
async def test_staff_roles_get_403_on_patient_routes(
    client: httpx.AsyncClient, db: Database, settings: Settings, role: Role
) -> None:
    _, patient = await signed_in(db, settings)
    patient_id = (await client.post(URL, json=body(), headers=patient)).json()["patient"]["id"]
    _, staff = await signed_in(db, settings, role)
    assert (await client.post(URL, json=body(PARENT_ID), headers=staff)).status_code == 403
    assert (await client.get(URL, headers=staff)).status_code == 403
    assert (await client.get(f"{URL}/{patient_id}", headers=staff)).status_code == 403
    assert (await client.post(f"{URL}/{patient_id}/reveal", headers=staff)).status_code == 403
    assert await row_counts(db) == (1, 1)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", URL),
        ("POST", URL),
        ("GET", f"{URL}/1"),
        ("POST", f"{URL}/1/reveal"),
        ("GET", f"{URL}/bindings"),
        ("POST", f"{URL}/bindings"),
        ("POST", f"{URL}/bindings/1/accept"),
        ("DELETE", f"{URL}/bindings/1"),
        ("DELETE", f"{URL}/bindings/requests/1"),
        ("POST", f"{URL}/bindings/requests/1/code"),
        ("POST", f"{URL}/claims"),
        ("POST", f"{URL}/claims/1/confirm"),
    ],
)
async def test_every_patient_route_needs_sign_in(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, json=body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
