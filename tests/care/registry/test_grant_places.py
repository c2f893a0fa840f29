"""A health commission grants hospital_admin only for hospitals its region really contains.

Identity stores scopes as kind + id; the registry tells it which city a hospital lies in.
"""

from __future__ import annotations

import pytest

from regio.care.registry import policies, service
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.errors import Forbidden
from tests.care.registry.helpers import hospital_admin, make_hospital
from tests.factories import make_user, token_headers


@pytest.mark.parametrize(("city", "status"), [("330200", 201), ("320100", 403)])
async def test_a_health_admin_grants_hospital_admin_only_inside_its_province(
    db, client, settings, city: str, status: int
) -> None:
    hospital_id = await make_hospital(db, city_adcode=city)
    commission = await make_user(
        db, username="zj_commission", roles=[RoleGrant(Role.health_admin, ScopeKind.region, "330000")]
    )
    await make_user(db, username="new_admin")
    response = await client.post(
        "/api/admin/role-grants",
        json={
            "username": "new_admin",
            "role": "hospital_admin",
            "scope_kind": "hospital",
            "scope_id": str(hospital_id),
        },
        headers=token_headers(settings, commission),
    )
    assert response.status_code == status, response.text


async def test_an_unknown_hospital_lies_nowhere_so_the_grant_is_refused(db, client, settings) -> None:
    commission = await make_user(
        db, username="zj_commission", roles=[RoleGrant(Role.health_admin, ScopeKind.region, "330000")]
    )
    await make_user(db, username="new_admin")
    response = await client.post(
        "/api/admin/role-grants",
        json={
            "username": "new_admin",
            "role": "hospital_admin",
            "scope_kind": "hospital",
            "scope_id": "999999",
        },
        headers=token_headers(settings, commission),
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "scope_id",
    ["9" * 30, "9223372036854775808", "18446744073709551616", "١", "0", "-1", "1e3", "0001"],
)
async def test_a_scope_that_is_no_hospital_id_lies_nowhere_and_is_refused_not_a_500(
    db, client, settings, scope_id: str
) -> None:
    await make_hospital(db)  # hospital 1 exists, so "0001" and " 1" must not be read as it
    commission = await make_user(
        db, username="zj_commission", roles=[RoleGrant(Role.health_admin, ScopeKind.region, "330000")]
    )
    await make_user(db, username="new_admin")
    response = await client.post(
        "/api/admin/role-grants",
        json={
            "username": "new_admin",
            "role": "hospital_admin",
            "scope_kind": "hospital",
            "scope_id": scope_id,
        },
        headers=token_headers(settings, commission),
    )
    assert response.status_code in (403, 422), response.text


async def test_the_place_of_a_hospital_scope_is_its_city_only_for_a_registered_hospital(db) -> None:
    hospital_id = await make_hospital(db, city_adcode="330200")
    async with db.session() as session:
        assert await service.hospital_place(session, str(hospital_id)) == "330200"
        assert await service.hospital_place(session, str(hospital_id + 1000)) is None
        assert await service.hospital_place(session, str(2**63 - 1)) is None
        assert await service.hospital_place(session, str(2**63)) is None
        assert await service.hospital_place(session, "9" * 400) is None
        assert await service.hospital_place(session, f"0{hospital_id}") is None


async def test_a_hospital_admin_scope_past_bigint_names_no_hospital_a_refusal_not_a_500(db) -> None:
    await make_hospital(db, status="suspended")
    odd = hospital_admin("9" * 30)
    assert policies.visibility(odd).hospital_ids == frozenset()
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.search_hospitals(session=session, principal=odd, include_unlisted=True)
        page = await service.search_hospitals(session=session, principal=odd)
    assert page.total == 0  # the suspended hospital stays unlisted
