"""Risk reports and emergency events, one row per version, chained like CAP alerts.

An original report is version 1 and its own root; an update or a cancel is a new row whose
`references_id` names the version it replaces and whose `root_id` names the original, so the
chain is the rows of one root ordered by version. Exactly one row of a chain is current
(active, cancelled or closed); the ones before it are superseded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.core.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, one_of, utcnow
from regio.risk.events.enums import (
    Category,
    Certainty,
    Kind,
    MsgType,
    Scope,
    Severity,
    Source,
    Status,
    Urgency,
)


class RiskEvent(IdMixin, TimestampMixin, Base):
    """One version of a risk report (kind risk, warning level 1–4) or event report (kind event, grade I–IV)."""

    __tablename__ = "risk_events"
    __table_args__ = (
        UniqueConstraint("identifier", name="uq_risk_events_identifier"),
        # Two updates racing for one version: the second insert of the same (root, version) loses.
        UniqueConstraint("root_id", "version", name="uq_risk_events_root_version"),
        CheckConstraint(one_of("msg_type", [m.value for m in MsgType]), name="msg_type"),
        CheckConstraint(one_of("status", [s.value for s in Status]), name="status"),
        CheckConstraint(one_of("category", [c.value for c in Category]), name="category"),
        CheckConstraint(one_of("kind", [k.value for k in Kind]), name="kind"),
        CheckConstraint(one_of("severity", [s.value for s in Severity]), name="severity"),
        CheckConstraint(one_of("certainty", [c.value for c in Certainty]), name="certainty"),
        CheckConstraint(one_of("urgency", [u.value for u in Urgency]), name="urgency"),
        CheckConstraint(one_of("source", [s.value for s in Source]), name="source"),
        CheckConstraint(one_of("scope", [s.value for s in Scope]), name="scope"),
        CheckConstraint(one_of("origin_level", ["province", "prefecture", "county"]), name="origin_level"),
        # Two scales, not one: a risk has a warning level, an event that happened has a grade.
        CheckConstraint(
            "(kind = 'risk' AND warning_level BETWEEN 1 AND 4 AND grade IS NULL)"
            " OR (kind = 'event' AND grade BETWEEN 1 AND 4 AND warning_level IS NULL)",
            name="level_xor_grade",
        ),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("(version = 1) = (references_id IS NULL)", name="references_chain"),
        Index("ix_risk_events_root", "root_id", "version"),
        Index("ix_risk_events_duplicates", "event_type", "status", "detected_at"),
        Index("ix_risk_events_origin", "origin_level", "origin_adcode", "status"),
        Index("ix_risk_events_status", "status", "reported_at"),
    )

    # The CAP identifier: regio-<adcode>-<yyyymmddHHMMSS>-<random> for reports made here,
    # the sender's own for imported alerts.
    identifier: Mapped[str] = mapped_column(String(255), nullable=False)
    # The CAP sender: regio@<adcode>.<host> for reports made here, the alert's for imported ones.
    sender: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    references_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("risk_events.id", ondelete="RESTRICT"), nullable=True
    )
    # The original report; set in the same transaction as the insert (its own id for the original).
    root_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("risk_events.id", ondelete="RESTRICT"), nullable=True
    )
    msg_type: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=Status.active.value)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    warning_level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    grade: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    certainty: Mapped[str] = mapped_column(String(16), nullable=False)
    urgency: Mapped[str] = mapped_column(String(16), nullable=False)
    scope: Mapped[str] = mapped_column(String(16), nullable=False, default=Scope.restricted.value)
    # The reporting jurisdiction, geography's key (level, adcode).
    origin_level: Mapped[str] = mapped_column(String(16), nullable=False)
    origin_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    # The hazard's extent, a GeoJSON geometry in WGS-84 (Polygon, MultiPolygon or Point).
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # How the area was given, as CAP speaks of it: {"polygons": [...], "circles": [...], "geocodes": [...]}.
    area: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    area_desc: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # None for an alert that arrived as CAP from another system.
    reported_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    headline: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    instruction: Mapped[str] = mapped_column(Text, nullable=False, default="")
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    raw_cap: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A duplicate folded into another report's chain (status merged).
    merged_into_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("risk_events.id", ondelete="RESTRICT"), nullable=True
    )


class RiskEventAttachment(IdMixin, Base):
    """A file attached to one version of a report (a photo, a monitoring reading), kept in the database."""

    __tablename__ = "risk_event_attachments"
    __table_args__ = (
        CheckConstraint("size_bytes >= 0", name="size"),
        Index("ix_risk_event_attachments_event", "event_id"),
    )

    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("risk_events.id", ondelete="CASCADE"), nullable=False
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


# Keeps the one-current-version rule as a second line behind the conditional UPDATE of the service.
Index(
    "uq_risk_events_one_active",
    RiskEvent.root_id,
    unique=True,
    sqlite_where=text("status = 'active'"),
    postgresql_where=text("status = 'active'"),
)
