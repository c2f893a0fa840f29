"""JSON routes of identity: tokens for people and institution systems, who am I, role grants."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from regio.core.access import RoleGrant
from regio.core.deps import CurrentPrincipal, Public, SessionDep, SettingsDep, client_ip
from regio.core.identity import service
from regio.core.identity.schemas import (
    ClientTokenRequest,
    GrantOut,
    MeOut,
    RoleGrantIn,
    RoleGrantOut,
    TokenOut,
    TokenRequest,
)

router = APIRouter(tags=["identity"])


@router.post("/api/auth/token", response_model=TokenOut, dependencies=[Public])
async def create_token(
    body: TokenRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenOut:
    """Username and password for a bearer token (401 invalid_credentials; 429 login_locked or login_throttled)."""
    return await service.token_for_password(
        session=session,
        settings=settings,
        username=body.username,
        password=body.password,
        ip=client_ip(request),
    )


@router.post("/api/auth/client-token", response_model=TokenOut, dependencies=[Public])
async def create_client_token(
    body: ClientTokenRequest, session: SessionDep, settings: SettingsDep
) -> TokenOut:
    """An institution system's client id and secret for a bearer token acting as that client."""
    return await service.token_for_client(
        session=session, settings=settings, client_id=body.client_id, client_secret=body.client_secret
    )


@router.get("/api/auth/me", response_model=MeOut)
async def me(principal: CurrentPrincipal) -> MeOut:
    """The signed-in person or system and every role it holds, with scopes."""
    return MeOut(
        user_id=principal.user_id,
        client_id=principal.client_id,
        username=principal.username,
        display_name=principal.display_name,
        roles=[
            GrantOut(role=g.role, scope_kind=g.scope_kind, scope_id=g.scope_id)
            for g in sorted(principal.grants, key=lambda g: (g.role.value, g.scope_kind.value, g.scope_id))
        ],
    )


@router.post("/api/admin/role-grants", status_code=201, response_model=RoleGrantOut)
async def grant_role(body: RoleGrantIn, session: SessionDep, principal: CurrentPrincipal) -> RoleGrantOut:
    """Grants a role in a scope to a user or API client, as the grant policy allows."""
    grant = RoleGrant(role=body.role, scope_kind=body.scope_kind, scope_id=body.scope_id.strip())
    await service.grant_role(
        session=session, principal=principal, grant=grant, username=body.username, client_id=body.client_id
    )
    return RoleGrantOut(
        username=body.username,
        client_id=body.client_id,
        role=grant.role,
        scope_kind=grant.scope_kind,
        scope_id=grant.scope_id,
    )


@router.delete("/api/admin/role-grants", status_code=204)
async def revoke_role(body: RoleGrantIn, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Revokes a role in a scope from a user or API client, as the grant policy allows."""
    grant = RoleGrant(role=body.role, scope_kind=body.scope_kind, scope_id=body.scope_id.strip())
    await service.revoke_role(
        session=session, principal=principal, grant=grant, username=body.username, client_id=body.client_id
    )
    return Response(status_code=204)
