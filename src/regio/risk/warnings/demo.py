"""Demo data of warnings: a second city officer, in Huzhou (Hangzhou's neighbour to the north), so
that a report in Hangzhou shows the warning and its acknowledgement from both sides."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.identity import passwords
from regio.core.identity import service as identity_service
from regio.core.identity.errors import UsernameTaken

# (role, username, display name, jurisdiction adcode); fictional demo accounts
DEMO_OFFICERS = (("city_officer", "huz_officer", "湖州市应急管理局", "330500"),)


async def load_demo(*, session: AsyncSession, password: str) -> list[tuple[str, str, str]]:
    """Creates the demo officers (again: nothing changes); returns (role, username, display name)."""
    password_hash = await passwords.hash_password(password)
    for role, username, display_name, adcode in DEMO_OFFICERS:
        try:
            await identity_service.create_user_with_hash(
                session=session,
                username=username,
                password_hash=password_hash,
                display_name=display_name,
                grants=[RoleGrant(Role(role), ScopeKind.jurisdiction, adcode)],
            )
        except UsernameTaken:
            pass  # loaded on an earlier run
    return [(role, username, display_name) for role, username, display_name, _ in DEMO_OFFICERS]
