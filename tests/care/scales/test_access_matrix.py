"""Who may read a scale response and act on an alert: default deny, tested as a matrix and over the API."""

from __future__ import annotations

import httpx
import pytest

from regio.care.scales import policies, service
from regio.care.scales.policies import ResponseFacts
from regio.config import Settings
from regio.core.access import SYSTEM, Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.scales.conftest import Family, Ward
from tests.factories import make_user, token_headers

PATIENT = 7
ALERTED_DOCTOR = 20


def person(user_id: int, *grants: RoleGrant) -> Principal:
    return Principal(user_id=user_id, username=f"u{user_id}", grants=frozenset(grants))


DOCTOR = RoleGrant(Role.doctor, ScopeKind.hospital, "1")
PATIENT_ROLE = RoleGrant(Role.patient)

MATRIX = [
    ("the patient or someone bound to them", person(10, PATIENT_ROLE), frozenset({PATIENT}), True),
    ("a patient not bound to them", person(11, PATIENT_ROLE), frozenset({8}), False),
    ("a doctor the alert was sent to", person(ALERTED_DOCTOR, DOCTOR), frozenset(), True),
    ("a doctor not alerted", person(21, DOCTOR), frozenset(), False),
    (
        "a hospital admin told on escalation",
        person(22, RoleGrant(Role.hospital_admin, ScopeKind.hospital, "1")),
        frozenset(),
        False,
    ),
    ("a platform admin", person(23, RoleGrant(Role.platform_admin)), frozenset(), False),
    ("a regulator", person(24, RoleGrant(Role.regulator)), frozenset(), False),
    ("the platform itself", SYSTEM, frozenset(), False),
    (
        "an institution's system",
        Principal(None, "c", frozenset({RoleGrant(Role.platform_admin)}), client_id=3),
        frozenset(),
        False,
    ),
]


@pytest.mark.parametrize(("who", "principal", "actable", "allowed"), MATRIX, ids=[row[0] for row in MATRIX])
def test_read_response_policy(who: str, principal: Principal, actable: frozenset[int], allowed: bool) -> None:
    facts = ResponseFacts(patient_id=PATIENT, alert_recipient_user_ids=frozenset({ALERTED_DOCTOR, 22}))
    assert policies.may_read_response(principal, facts, actable) is allowed


@pytest.mark.parametrize(
    ("principal", "see", "acknowledge"),
    [
        (person(ALERTED_DOCTOR, DOCTOR), True, True),
        (person(22, RoleGrant(Role.hospital_admin, ScopeKind.hospital, "1")), True, False),
        (person(21, DOCTOR), False, False),
        (person(23, RoleGrant(Role.platform_admin)), False, False),
        (SYSTEM, False, False),
    ],
)
def test_alert_policies(principal: Principal, see: bool, acknowledge: bool) -> None:
    told = frozenset({ALERTED_DOCTOR, 22})
    assert policies.may_see_alert(principal, told) is see
    assert policies.may_acknowledge(principal, told) is acknowledge


def test_only_patients_submit() -> None:
    assert policies.may_submit(person(1, PATIENT_ROLE))
    assert not policies.may_submit(person(2, DOCTOR))
    assert not policies.may_submit(SYSTEM)


async def test_reading_a_response_over_the_api(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    family: Family,
    other_family: Family,
    ward: Ward,
) -> None:
    async with db.session() as session:
        made = await service.submit(
            session=session,
            settings=settings,
            principal=family.principal,
            scale_id="phq9",
            answers=[0] * 8 + [2],
        )
    url = made.resource_url
    allowed = [family.user, ward.psychiatrists[0].user]
    admin = await make_user(db, roles=[Role.platform_admin])
    refused = [other_family.user, ward.off_duty.user, ward.admin.user, admin]
    for user in allowed:
        assert (await client.get(url, headers=token_headers(settings, user))).status_code == 200
    for user in refused:
        answer = await client.get(url, headers=token_headers(settings, user))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "scale_response_not_found"
    assert (await client.get(url)).status_code == 401


async def test_alerts_over_the_api(
    client: httpx.AsyncClient, settings: Settings, db: Database, family: Family, ward: Ward
) -> None:
    async with db.session() as session:
        made = await service.submit(
            session=session,
            settings=settings,
            principal=family.principal,
            scale_id="phq9",
            answers=[0] * 8 + [1],
        )
    doctor = token_headers(settings, ward.psychiatrists[1].user)
    listed = (await client.get("/api/care/scales/alerts", headers=doctor)).json()
    assert [alert["id"] for alert in listed] == [made.alert_id]
    assert (
        await client.get("/api/care/scales/alerts", headers=token_headers(settings, ward.off_duty.user))
    ).json() == []
    url = f"/api/care/scales/alerts/{made.alert_id}/acknowledge"
    stranger = await client.post(url, headers=token_headers(settings, ward.off_duty.user))
    assert stranger.status_code == 404
    taken = await client.post(url, headers=doctor)
    assert taken.status_code == 200 and taken.json()["status"] == "acknowledged"
    again = await client.post(url, headers=token_headers(settings, ward.psychiatrists[0].user))
    assert again.status_code == 409 and again.json()["error"]["code"] == "scale_alert_already_acknowledged"
