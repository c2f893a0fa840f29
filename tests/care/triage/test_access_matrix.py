"""Who may read a triage assessment: the person who asked and those bound to its patient; nobody else."""

from __future__ import annotations

import httpx
import pytest

from regio.care.triage import policies
from regio.care.triage.policies import AssessmentFacts
from regio.config import Settings
from regio.core.access import SYSTEM, Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.care.triage import cases
from tests.care.triage.conftest import Family
from tests.factories import client_headers, make_api_client, make_user, token_headers

ASKER = 10
BOUND = frozenset({7})


def person(user_id: int, *roles: Role) -> Principal:
    return Principal(user_id=user_id, username=f"u{user_id}", grants=frozenset(RoleGrant(r) for r in roles))


MATRIX = [
    ("the person who asked", person(ASKER, Role.patient), frozenset(), True),
    ("someone bound to the patient", person(11, Role.patient), BOUND, True),
    ("a patient not bound to it", person(12, Role.patient), frozenset({8}), False),
    ("a doctor", person(13, Role.doctor), frozenset(), False),
    (
        "a hospital admin",
        Principal(14, "h", frozenset({RoleGrant(Role.hospital_admin, ScopeKind.hospital, "1")})),
        frozenset(),
        False,
    ),
    ("a platform admin", person(15, Role.platform_admin), frozenset(), False),
    ("a regulator", person(16, Role.regulator), frozenset(), False),
    ("the platform itself", SYSTEM, frozenset(), False),
    (
        "an institution's system",
        Principal(None, "c", frozenset({RoleGrant(Role.platform_admin)}), client_id=3),
        frozenset(),
        False,
    ),
]


@pytest.mark.parametrize(("who", "principal", "actable", "allowed"), MATRIX, ids=[row[0] for row in MATRIX])
def test_read_policy(who: str, principal: Principal, actable: frozenset[int], allowed: bool) -> None:
    facts = AssessmentFacts(asked_by_user_id=ASKER, patient_id=7)
    assert policies.may_read(principal, facts, actable) is allowed


def test_only_people_may_be_triaged() -> None:
    assert policies.may_assess(person(1, Role.patient))
    assert policies.may_assess(person(2))  # any signed-in person, even without a patient record
    assert not policies.may_assess(SYSTEM)
    assert not policies.may_assess(Principal(None, "c", client_id=3))


async def test_reading_an_assessment_over_the_api(
    client: httpx.AsyncClient, settings: Settings, db: Database, family: Family, other_family: Family
) -> None:
    made = await client.post(
        "/api/care/triage",
        json={**cases.LISTLESS_CHILD, "patient_id": family.child_id},
        headers=token_headers(settings, family.user),
    )
    url = f"/api/care/triage/{made.json()['id']}"
    doctor = await make_user(db, roles=[RoleGrant(Role.doctor, ScopeKind.hospital, "1")])
    admin = await make_user(db, roles=[Role.platform_admin])
    client_id, secret = await make_api_client(db, grants=[Role.platform_admin])
    assert (await client.get(url, headers=token_headers(settings, family.user))).status_code == 200
    for headers in (
        token_headers(settings, other_family.user),
        token_headers(settings, doctor),
        token_headers(settings, admin),
        await client_headers(client, client_id, secret),
    ):
        refused = await client.get(url, headers=headers)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "triage_assessment_not_found"
    assert (await client.get(url)).status_code == 401
