"""Payment tables: fees and prices, insurance enrolments and their year-to-date totals, orders with
their insurance split, refunds, and the payment gateway's notifications.

Money is integer fen everywhere; a CHECK keeps every split whole (fund + personal account + out of
pocket = total), so no bug can store a fen that belongs to nobody.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.care.payment.enums import OrderKind, OrderStatus
from regio.core.db import Base, BigId, IdMixin, UTCDateTime, one_of, utcnow

USERS_ID = "users.id"
# An order that still holds (or held) the thing it pays for: at most one per appointment or prescription.
_LIVE = "status IN ('pending', 'paid', 'partially_refunded')"


class ConsultationFee(IdMixin, Base):
    """A hospital's fee for one consultation mode and doctor title (诊察费), in fen."""

    __tablename__ = "payment_consultation_fees"
    __table_args__ = (
        UniqueConstraint("hospital_id", "mode", "title"),
        CheckConstraint("amount_fen >= 0", name="amount"),
    )

    hospital_id: Mapped[int] = mapped_column(BigId, ForeignKey("hospitals.id"), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    title: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)


class DrugPrice(IdMixin, Base):
    """What one unit (pack) of a drug costs at one pharmacy, in fen."""

    __tablename__ = "payment_drug_prices"
    __table_args__ = (
        UniqueConstraint("pharmacy_id", "drug_code"),
        CheckConstraint("unit_price_fen >= 0", name="price"),
    )

    pharmacy_id: Mapped[int] = mapped_column(BigId, ForeignKey("prescription_pharmacies.id"), nullable=False)
    drug_code: Mapped[str] = mapped_column(String(16), nullable=False)
    unit_price_fen: Mapped[int] = mapped_column(Integer, nullable=False)


class Enrolment(IdMixin, Base):
    """A patient's medical insurance: where, which scheme, registered chronic and special diseases."""

    __tablename__ = "payment_enrolments"
    __table_args__ = (
        UniqueConstraint("patient_id"),
        CheckConstraint(one_of("scheme", ["employee", "resident"]), name="scheme"),
        CheckConstraint("personal_account_fen >= 0", name="personal_account"),
        # The urban-rural resident scheme has no personal account.
        CheckConstraint("scheme = 'employee' OR personal_account_fen = 0", name="resident_no_account"),
    )

    patient_id: Mapped[int] = mapped_column(BigId, ForeignKey("patients.id"), nullable=False)
    region_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    scheme: Mapped[str] = mapped_column(String(16), nullable=False)
    chronic_diseases: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    personal_account_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey(USERS_ID), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class InsuranceYear(IdMixin, Base):
    """What the fund paid and how much of the deductible was used, per patient and insurance year."""

    __tablename__ = "payment_insurance_years"
    __table_args__ = (
        UniqueConstraint("patient_id", "year"),
        CheckConstraint("deductible_used_fen >= 0 AND fund_paid_fen >= 0", name="totals"),
    )

    patient_id: Mapped[int] = mapped_column(BigId, ForeignKey("patients.id"), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    deductible_used_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    fund_paid_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Order(IdMixin, Base):
    """One payment: a consultation fee or a prescription's drugs and delivery, split by insurance."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        UniqueConstraint("reference"),
        CheckConstraint(one_of("kind", [k.value for k in OrderKind]), name="kind"),
        CheckConstraint(one_of("status", [s.value for s in OrderStatus]), name="status"),
        CheckConstraint("fund_fen + personal_account_fen + out_of_pocket_fen = total_fen", name="split"),
        CheckConstraint(
            "fund_fen >= 0 AND personal_account_fen >= 0 AND out_of_pocket_fen >= 0", name="shares"
        ),
        CheckConstraint(
            "refunded_fund_fen <= fund_fen AND refunded_personal_account_fen <= personal_account_fen"
            " AND refunded_out_of_pocket_fen <= out_of_pocket_fen",
            name="refunds",
        ),
        CheckConstraint("(appointment_id IS NULL) <> (prescription_id IS NULL)", name="one_subject"),
        Index(
            "uq_payment_orders_live_appointment",
            "appointment_id",
            unique=True,
            sqlite_where=text(_LIVE + " AND appointment_id IS NOT NULL"),
            postgresql_where=text(_LIVE + " AND appointment_id IS NOT NULL"),
        ),
        Index(
            "uq_payment_orders_live_prescription",
            "prescription_id",
            unique=True,
            sqlite_where=text(_LIVE + " AND prescription_id IS NOT NULL"),
            postgresql_where=text(_LIVE + " AND prescription_id IS NOT NULL"),
        ),
        Index("ix_payment_orders_hospital_day", "hospital_id", "created_at"),
        Index("ix_payment_orders_patient", "patient_id", "created_at"),
        Index("ix_payment_orders_expiry", "status", "expires_at"),
    )

    reference: Mapped[str] = mapped_column(String(32), nullable=False)  # ours, given to the gateway
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    appointment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    prescription_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("prescriptions.id"), nullable=True)
    patient_id: Mapped[int] = mapped_column(BigId, ForeignKey("patients.id"), nullable=False)
    hospital_id: Mapped[int] = mapped_column(BigId, ForeignKey("hospitals.id"), nullable=False)
    pharmacy_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    payer_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey(USERS_ID), nullable=True)
    status: Mapped[str] = mapped_column(String(24), nullable=False, default=OrderStatus.pending.value)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    visit_type: Mapped[str] = mapped_column(String(16), nullable=False, default="follow_up")
    condition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    total_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    fund_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    personal_account_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    out_of_pocket_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    refunded_fund_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    refunded_personal_account_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    refunded_out_of_pocket_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The split as settled with the insurer (lines with the rule applied); a preview until settled_at.
    settlement: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    insurance_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deductible_applied_fen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    gateway: Mapped[str | None] = mapped_column(String(32), nullable=True)
    gateway_txn_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pay_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Refund(IdMixin, Base):
    """Money given back on an order, split back into the shares it was paid from."""

    __tablename__ = "payment_refunds"
    __table_args__ = (
        UniqueConstraint("reference"),
        CheckConstraint("amount_fen > 0", name="amount"),
        CheckConstraint("fund_fen + personal_account_fen + out_of_pocket_fen = amount_fen", name="split"),
        Index("ix_payment_refunds_order", "order_id"),
    )

    reference: Mapped[str] = mapped_column(String(40), nullable=False)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("payment_orders.id"), nullable=False)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    fund_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    personal_account_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    out_of_pocket_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    requested_by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey(USERS_ID), nullable=True)
    gateway_refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class GatewayEvent(IdMixin, Base):
    """One notification from the payment gateway; its unique event id makes a repeat change nothing."""

    __tablename__ = "payment_gateway_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id"),)

    gateway: Mapped[str] = mapped_column(String(32), nullable=False)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    reference: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    applied: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
