"""Pure identity rules: account fields, where each role may be held, who may grant what, safe redirects."""

from __future__ import annotations

import re

from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.errors import DomainError
from regio.core.identity.errors import (
    DisplayNameInvalid,
    GrantScopeInvalid,
    GrantSpecInvalid,
    PasswordMismatch,
    PasswordSameAsUsername,
    PasswordTooLong,
    PasswordTooShort,
    UsernameInvalid,
)

PASSWORD_MIN_LENGTH = 8
# argon2 takes any length; the cap only stops megabyte "passwords" from being hashed.
PASSWORD_MAX_LENGTH = 128
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")

# Where each role makes sense; anything else is refused so that a grant always means something.
ROLE_SCOPES: dict[Role, frozenset[ScopeKind]] = {
    Role.patient: frozenset({ScopeKind.platform}),
    Role.doctor: frozenset({ScopeKind.hospital}),
    Role.pharmacist: frozenset({ScopeKind.hospital, ScopeKind.pharmacy}),
    Role.hospital_admin: frozenset({ScopeKind.hospital}),
    Role.quality_officer: frozenset({ScopeKind.hospital}),
    Role.health_admin: frozenset({ScopeKind.region}),
    Role.city_officer: frozenset({ScopeKind.jurisdiction}),
    Role.coordinator: frozenset({ScopeKind.coordination_body}),
    Role.evaluator: frozenset({ScopeKind.platform, ScopeKind.region, ScopeKind.coordination_body}),
    Role.regulator: frozenset({ScopeKind.platform, ScopeKind.region}),
    Role.platform_admin: frozenset({ScopeKind.platform}),
}


def normalize_username(username: str) -> str:
    return username.strip().lower()


def username_problem(username: str) -> DomainError | None:
    if not _USERNAME.fullmatch(normalize_username(username)):
        return UsernameInvalid()
    return None


def display_name_problem(display_name: str) -> DomainError | None:
    name = display_name.strip()
    if not 1 <= len(name) <= 50 or not name.isprintable():
        return DisplayNameInvalid()
    return None


def password_problem(password: str, *, username: str = "") -> DomainError | None:
    """Minimum rules for a new password: long enough, bounded, not the username."""
    if len(password) < PASSWORD_MIN_LENGTH or not password.strip():
        return PasswordTooShort(min_length=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        return PasswordTooLong(max_length=PASSWORD_MAX_LENGTH)
    if username and password.strip().lower() == normalize_username(username):
        return PasswordSameAsUsername()
    return None


def new_account_problems(
    *, username: str, display_name: str, password: str, confirm: str | None = None
) -> dict[str, DomainError]:
    """Every problem of a sign-up form at once, by field, so each is shown beside its field."""
    problems: dict[str, DomainError] = {}
    for field, problem in (
        ("username", username_problem(username)),
        ("display_name", display_name_problem(display_name)),
        ("password", password_problem(password, username=username)),
    ):
        if problem is not None:
            problems[field] = problem
    if confirm is not None and "password" not in problems and confirm != password:
        problems["confirm"] = PasswordMismatch()
    return problems


def grant_scope_problem(grant: RoleGrant) -> DomainError | None:
    allowed = ROLE_SCOPES.get(grant.role, frozenset())
    fits = grant.scope_kind in allowed and (
        grant.scope_id == "" if grant.scope_kind == ScopeKind.platform else bool(grant.scope_id.strip())
    )
    if not fits:
        return GrantScopeInvalid(role=grant.role.value, scope_kind=grant.scope_kind.value)
    return None


def parse_grant_spec(spec: str) -> RoleGrant:
    """`patient` or `doctor:hospital:7` (role, scope kind, scope id) as typed on a command line."""
    role_name, _, rest = spec.strip().partition(":")
    kind_name, _, scope_id = rest.partition(":")
    try:
        grant = RoleGrant(Role(role_name), ScopeKind(kind_name or ScopeKind.platform.value), scope_id)
    except ValueError as exc:
        raise GrantSpecInvalid(spec=spec) from exc
    problem = grant_scope_problem(grant)
    if problem is not None:
        raise problem
    return grant


def adcode_within(region_id: str, place_id: str) -> bool:
    """A GB/T 2260 adcode lies within another when it shares its significant prefix.

    330000 (Zhejiang) holds 330100 (Hangzhou) and 330106 (Xihu); trailing "00" pairs are
    the unspecified lower levels.
    """
    if region_id == place_id:
        return True
    if not (len(region_id) == len(place_id) == 6 and region_id.isdigit() and place_id.isdigit()):
        return False
    prefix = region_id
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return place_id.startswith(prefix)


def may_manage_grant(actor: Principal, grant: RoleGrant, *, scope_region: str | None = None) -> bool:
    """Who may grant or revoke a role in a scope; everything not listed is denied.

    - platform_admin: any role, any scope.
    - health_admin: hospital_admin of a hospital lying in its region (scope_region is the
      hospital's adcode, looked up by the caller; unknown means no).
    - hospital_admin: doctor or pharmacist in a hospital it administers.
    """
    if not actor.is_authenticated:
        return False
    if actor.has_role(Role.platform_admin, ScopeKind.platform):
        return True
    if grant.role == Role.hospital_admin and grant.scope_kind == ScopeKind.hospital:
        if scope_region is None:
            return False
        regions = actor.scope_ids(Role.health_admin, ScopeKind.region)
        return any(adcode_within(region, scope_region) for region in regions)
    if grant.role in (Role.doctor, Role.pharmacist) and grant.scope_kind == ScopeKind.hospital:
        return grant.scope_id in actor.scope_ids(Role.hospital_admin, ScopeKind.hospital)
    return False


def safe_next(target: str | None, default: str = "/me") -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative '//' or '/\\' tricks."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in ("\\", "\r", "\n", "\t")) or any(ord(ch) < 32 for ch in target):
        return default
    return target
