"""Tables of warnings: who was warned of which event, acknowledgements, escalations, the dashboard
feed, responsibility lists (parties and tasks), webhook subscriptions and accountability records.

Events are referred to by id and by their root (the first version's id, shared by every update),
without foreign keys: a warning must outlive any tidying of the event's versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.core.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, utcnow


class RiskWarning(IdMixin, TimestampMixin, Base):
    """One warning of one event (all its versions) to one jurisdiction or coordination body."""

    __tablename__ = "risk_warnings"
    __table_args__ = (
        # The journey may run twice (the route, then the outbox backstop): one warning per recipient.
        UniqueConstraint("root_id", "recipient_key", name="uq_risk_warnings_root_recipient"),
        CheckConstraint("recipient_kind IN ('jurisdiction', 'body')", name="recipient_kind"),
        CheckConstraint("status IN ('active', 'cancelled', 'closed')", name="status"),
        CheckConstraint("level BETWEEN 1 AND 4", name="level"),
        CheckConstraint("escalation_step BETWEEN 0 AND 2", name="escalation_step"),
        Index("ix_risk_warnings_recipient", "recipient_key", "id"),
        Index("ix_risk_warnings_due", "status", "acknowledged_at", "due_at"),
        Index("ix_risk_warnings_origin", "origin_adcode", "id"),
    )

    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the version last warned of
    root_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # "prefecture:330500" or "body:yangtze-river-delta": also the live channel's suffix.
    recipient_key: Mapped[str] = mapped_column(String(80), nullable=False)
    recipient_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    recipient_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    recipient_code: Mapped[str] = mapped_column(String(64), nullable=False)  # adcode or body slug
    recipient_name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # support | coordinate
    origin_level: Mapped[str] = mapped_column(String(16), nullable=False)
    origin_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    origin_name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # risk (warning level) | event (grade)
    level: Mapped[int] = mapped_column(Integer, nullable=False)  # 1 highest … 4
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    headline: Mapped[str] = mapped_column(String(300), nullable=False)
    reason: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    eta_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    model: Mapped[str] = mapped_column(String(60), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # When the next step falls due: acknowledgement, then each escalation.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acknowledged_by_name: Mapped[str] = mapped_column(String(150), nullable=False, default="")
    escalation_step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # on a dashboard
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WarningEscalation(IdMixin, Base):
    """One step up of an unacknowledged warning: to the coordination body, then to the level above."""

    __tablename__ = "risk_warning_escalations"
    __table_args__ = (UniqueConstraint("warning_id", "step", name="uq_risk_warning_escalations_step"),)

    warning_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("risk_warnings.id", ondelete="CASCADE"), nullable=False
    )
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    to_keys: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    escalated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class WarningFeed(Base):
    """What dashboards show, one row per audience and change; a dashboard resumes from its last id."""

    __tablename__ = "risk_warning_feed"
    __table_args__ = (Index("ix_risk_warning_feed_audience", "audience", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    audience: Mapped[str] = mapped_column(String(80), nullable=False)  # a recipient_key
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    root_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    warning_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class EventJourney(Base):
    """That the journey ran for one version and change of an event; the backstop then skips it."""

    __tablename__ = "risk_event_journeys"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    change: Mapped[str] = mapped_column(String(16), primary_key=True)  # active | cancelled | closed
    root_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    affected: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ResponsibilityParty(IdMixin, Base):
    """A party on an event's responsibility list (责任清单) with its role."""

    __tablename__ = "risk_parties"
    __table_args__ = (
        UniqueConstraint("root_id", "party_key", name="uq_risk_parties_root_party"),
        CheckConstraint("role IN ('lead', 'support', 'coordinate', 'take_over')", name="role"),
    )

    root_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    party_key: Mapped[str] = mapped_column(String(80), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ResponsibilityTask(IdMixin, TimestampMixin, Base):
    """A task with an owner and a deadline; defaults per role are keyed so the journey adds them once."""

    __tablename__ = "risk_tasks"
    __table_args__ = (
        UniqueConstraint("root_id", "owner_key", "default_key", name="uq_risk_tasks_default"),
        CheckConstraint("status IN ('open', 'done')", name="status"),
        Index("ix_risk_tasks_due", "status", "deadline"),
        Index("ix_risk_tasks_root", "root_id", "id"),
    )

    root_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    owner_key: Mapped[str] = mapped_column(String(80), nullable=False)
    owner_name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    title_en: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    # NULL for tasks people add; a name for the defaults the journey writes per role.
    default_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_by_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_by_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminders: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    """A jurisdiction's or body's own system that receives its warnings as signed webhooks."""

    __tablename__ = "risk_webhook_subscriptions"
    __table_args__ = (UniqueConstraint("subscriber_key", "url", name="uq_risk_webhook_subscriptions_url"),)

    subscriber_key: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    url: Mapped[str] = mapped_column(String(1000), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class WebhookDelivery(IdMixin, Base):
    """One webhook sent for a warning change; marked delivered by the outbox handler that posted it."""

    __tablename__ = "risk_webhook_deliveries"
    __table_args__ = (Index("ix_risk_webhook_deliveries_warning", "warning_id"),)

    warning_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    subscription_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("risk_webhook_subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    topic: Mapped[str] = mapped_column(String(60), nullable=False)
    url: Mapped[str] = mapped_column(String(1000), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AccountabilityRecord(IdMixin, Base):
    """问责: a recorded failing (here: slow acknowledgement), attributable and never edited away."""

    __tablename__ = "risk_accountability_records"
    __table_args__ = (UniqueConstraint("kind", "warning_id", name="uq_risk_accountability_kind_warning"),)

    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    party_key: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    party_name: Mapped[str] = mapped_column(String(200), nullable=False)
    root_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    warning_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
