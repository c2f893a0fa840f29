"""A health commission grants hospital_admin only for hospitals its region really contains.

Identity stores scopes as kind + id; the registry tells it which city a hospital lies in.
"""

from __future__ import annotations

import pytest

from regio.core.access import Role, RoleGrant, ScopeKind
from tests.care.registry.helpers import make_hospital
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
