"""Identity request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from regio.core.access import Role, ScopeKind


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class ClientTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=1000)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth 2 token type, not a secret)
    expires_in: int = Field(description="Seconds until the token expires.")


class GrantOut(BaseModel):
    role: Role
    scope_kind: ScopeKind
    scope_id: str


class MeOut(BaseModel):
    user_id: int | None
    client_id: int | None
    username: str
    display_name: str
    roles: list[GrantOut]


class RoleGrantIn(BaseModel):
    """A role in a scope, held by exactly one of: a user (by username) or an API client (by client id)."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, max_length=200)
    client_id: str | None = Field(default=None, max_length=200)
    role: Role
    scope_kind: ScopeKind = ScopeKind.platform
    scope_id: str = Field(default="", max_length=64)


class RoleGrantOut(BaseModel):
    username: str | None
    client_id: str | None
    role: Role
    scope_kind: ScopeKind
    scope_id: str


# Names shown on pages, Chinese first.
ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.patient: ("患者", "Patient"),
    Role.doctor: ("医生", "Doctor"),
    Role.pharmacist: ("药师", "Pharmacist"),
    Role.hospital_admin: ("医院管理员", "Hospital administrator"),
    Role.quality_officer: ("医院质控人员", "Quality officer"),
    Role.health_admin: ("卫生健康管理员", "Health administrator"),
    Role.city_officer: ("城市应急专员", "City officer"),
    Role.coordinator: ("协调机构专员", "Coordinator"),
    Role.evaluator: ("评估员", "Evaluator"),
    Role.regulator: ("监管人员（只读）", "Regulator (read-only)"),
    Role.platform_admin: ("平台管理员", "Platform administrator"),
}

SCOPE_LABELS: dict[ScopeKind, tuple[str, str]] = {
    ScopeKind.platform: ("全平台", "Platform"),
    ScopeKind.region: ("地区", "Region"),
    ScopeKind.hospital: ("医院", "Hospital"),
    ScopeKind.jurisdiction: ("辖区", "Jurisdiction"),
    ScopeKind.coordination_body: ("协调机构", "Coordination body"),
    ScopeKind.pharmacy: ("药店", "Pharmacy"),
}
