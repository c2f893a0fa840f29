"""The principals core knows: anonymous visitors, and the one SYSTEM principal the platform acts as."""

from __future__ import annotations

from sqlalchemy import select

from regio.core import access
from regio.core.access import ANONYMOUS, SYSTEM, Principal, Role, RoleGrant, ScopeKind
from regio.core.audit import AuditEntry
from regio.core.identity import policies
from regio.core.identity import service as identity_service
from tests.factories import make_user


def test_the_system_principal_is_authenticated_but_neither_a_person_nor_an_api_client() -> None:
    assert SYSTEM.is_authenticated
    assert not SYSTEM.is_person
    assert (SYSTEM.user_id, SYSTEM.client_id) == (None, None)
    assert SYSTEM.has_role(Role.platform_admin, ScopeKind.platform, "")


def test_anonymous_and_an_empty_principal_stay_unauthenticated() -> None:
    assert not ANONYMOUS.is_authenticated
    assert not Principal(user_id=None, username="system").is_authenticated


def test_identity_acts_as_the_one_canonical_system_principal() -> None:
    assert identity_service.SYSTEM is access.SYSTEM


def test_the_system_principal_passes_policies_that_require_a_platform_admin() -> None:
    grant = RoleGrant(Role.doctor, ScopeKind.hospital, "7")
    assert policies.may_manage_grant(SYSTEM, grant)
    assert not policies.may_manage_grant(Principal(user_id=None, username="system"), grant)


async def test_an_account_made_without_an_actor_is_audited_as_the_platform_itself(db) -> None:
    user = await make_user(db, username="madebysystem")
    async with db.session() as session:
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "user.create"))
        ).scalar_one()
    assert entry.object_id == str(user.id)
    assert (entry.actor_user_id, entry.actor_client_id, entry.actor_username) == (None, None, "system")
    assert entry.roles == ["platform_admin"]
