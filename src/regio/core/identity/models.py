"""Identity tables: users, API clients of institutions, role assignments in scopes, login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, utcnow


class User(IdMixin, TimestampMixin, Base):
    """A person who signs in; what they may do comes from their role assignments."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(50), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Counts failures since the last success; reaching the limit sets locked_until (see service.login).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiClient(IdMixin, TimestampMixin, Base):
    """An institution's system (a hospital's LIS, a city's alerting system) with its own credentials."""

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # SHA-256 of a 256-bit random secret: unlike a password it cannot be guessed, so a slow hash buys nothing.
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RoleAssignment(IdMixin, Base):
    """One role held in one scope by a user or by an API client (exactly one of the two)."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        # NULLs never collide in a unique index, so each holder kind gets its own constraint.
        UniqueConstraint("user_id", "role", "scope_kind", "scope_id", name="uq_role_assignments_user_grant"),
        UniqueConstraint(
            "api_client_id", "role", "scope_kind", "scope_id", name="uq_role_assignments_client_grant"
        ),
        CheckConstraint("(user_id IS NULL) <> (api_client_id IS NULL)", name="one_holder"),
        Index("ix_role_assignments_scope", "scope_kind", "scope_id", "role"),
    )

    user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    api_client_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_clients.id", ondelete="CASCADE"), nullable=True
    )
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    scope_kind: Mapped[str] = mapped_column(String(32), nullable=False, default=ScopeKind.platform.value)
    scope_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    granted_by_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    def as_grant(self) -> RoleGrant:
        return RoleGrant(role=Role(self.role), scope_kind=ScopeKind(self.scope_kind), scope_id=self.scope_id)


class LoginSession(IdMixin, Base):
    """A signed-in browser; the cookie holds a random token, the table only its hash."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    user_agent: Mapped[str] = mapped_column(String(300), nullable=False, default="")


class LoginThrottle(Base):
    """A sign-in failure counter that is not a user's own row: a username nobody holds, or an address.

    `key` is "name:" or "ip:" and a keyed hash (HMAC under a key derived from the secret key)
    of the normalised username or the client address, so the table names no one and lists
    no addresses. A name row counts and locks exactly like `users.failed_logins` and
    `users.locked_until`, so an unknown username answers as a known one would; an address row
    counts the failures of one fixed window starting at `window_started_at`.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
