"""The home page shows each person the doors of the journeys they may walk, and no others."""

from __future__ import annotations

import httpx
import pytest

from regio.config import Settings
from regio.core.access import ANONYMOUS, Principal, Role, RoleGrant, ScopeKind
from regio.core.db import Database
from regio.web.pages import tiles_for
from tests.factories import make_user, token_headers

PATIENT = {
    "triage",
    "booking",
    "quick",
    "consultations",
    "records",
    "reports",
    "scales",
    "orders",
    "insurance",
}
DOCTOR = {"workbench", "alerts"}
PHARMACIST = {"review", "pickup"}
RISK = {"dashboard", "report", "events", "spillover", "map"}
ADMIN = {"statistics"}


def _person(*grants: RoleGrant) -> Principal:
    return Principal(user_id=7, username="someone", grants=frozenset(grants))


def _keys(principal: Principal) -> set[str]:
    return {tile.key for tile in tiles_for(principal)}


# Who sees which journey's tiles (the access matrix of the front door).
MATRIX = [
    (RoleGrant(Role.patient), PATIENT, DOCTOR | PHARMACIST | RISK | ADMIN),
    (RoleGrant(Role.doctor, ScopeKind.hospital, "1"), DOCTOR, PATIENT | RISK | ADMIN),
    (RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100"), RISK, PATIENT | DOCTOR | ADMIN),
    (
        RoleGrant(Role.coordinator, ScopeKind.coordination_body, "yangtze-river-delta"),
        RISK,
        PATIENT | DOCTOR | ADMIN,
    ),
    (
        RoleGrant(Role.regulator),
        {"events", "spillover", "map"} | ADMIN,
        PATIENT | DOCTOR | {"dashboard", "report"},
    ),
    (RoleGrant(Role.pharmacist, ScopeKind.hospital, "1"), PHARMACIST, PATIENT | DOCTOR | RISK | ADMIN),
    (RoleGrant(Role.health_admin, ScopeKind.region, "330000"), ADMIN, PATIENT | DOCTOR | PHARMACIST | RISK),
    (RoleGrant(Role.hospital_admin, ScopeKind.hospital, "1"), ADMIN, PATIENT | DOCTOR | PHARMACIST | RISK),
]


@pytest.mark.parametrize(("grant", "shown", "hidden"), MATRIX, ids=[row[0].role.value for row in MATRIX])
def test_each_role_sees_only_the_tiles_of_its_journeys(
    grant: RoleGrant, shown: set[str], hidden: set[str]
) -> None:
    keys = _keys(_person(grant))
    assert shown <= keys
    assert not keys & hidden


def test_a_doctor_who_is_also_a_patient_sees_both_sets() -> None:
    keys = _keys(_person(RoleGrant(Role.patient), RoleGrant(Role.doctor, ScopeKind.hospital, "1")))
    assert PATIENT | DOCTOR <= keys
    assert not keys & RISK


def test_a_visitor_sees_the_public_doors_and_the_patient_journeys_that_start_with_sign_in() -> None:
    keys = _keys(ANONYMOUS)
    assert {"portal", "fever", "triage", "booking"} <= keys
    assert not keys & (DOCTOR | RISK | {"records", "account"})


async def test_the_patients_home_page_links_every_patient_journey_in_chinese_first(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    patient = await make_user(db, roles=[Role.patient])
    page = await client.get("/", headers=token_headers(settings, patient))
    assert page.status_code == 200
    for label, href in (
        ("智能分诊", "/care/triage"),
        ("预约挂号", "/booking"),
        ("极速提问", "/care/consultations/quick"),
        ("我的问诊", "/care/consultations"),
        ("我的病历", "/care/records"),
        ("心理测评", "/care/scales"),
    ):
        assert label in page.text
        assert f'href="{href}"' in page.text
    assert "接诊工作台" not in page.text and "风险预警看板" not in page.text
    assert 'id="nav-consultations"' in page.text and 'id="nav-workbench"' not in page.text


async def test_a_city_officers_home_page_leads_to_the_risk_screens_and_the_nav_to_the_dashboard(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    officer = await make_user(db, roles=[RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100")])
    page = await client.get("/?lang=en", headers=token_headers(settings, officer))
    assert page.status_code == 200
    for label in ("Warning dashboard", "Report a risk", "Risk events", "Spill-over", "Risk map"):
        assert label in page.text
    assert "Triage" not in page.text and "Workbench" not in page.text
    assert 'id="nav-dashboard"' in page.text


async def test_a_doctors_home_page_leads_to_the_workbench_and_the_urgent_alerts(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    doctor = await make_user(db, roles=[RoleGrant(Role.doctor, ScopeKind.hospital, "1")])
    page = await client.get("/", headers=token_headers(settings, doctor))
    assert 'href="/care/consultations/workbench"' in page.text and "接诊工作台" in page.text
    assert 'href="/care/scales/alerts"' in page.text and "紧急心理预警" in page.text
    assert 'id="nav-workbench"' in page.text and 'id="tile-triage"' not in page.text
