"""Named states of orders and refunds, and the kinds of things paid for."""

from __future__ import annotations

from enum import StrEnum


class OrderKind(StrEnum):
    consultation = "consultation"  # a booked time slot's consultation fee
    prescription = "prescription"  # drugs at the chosen pharmacy, plus delivery


class OrderStatus(StrEnum):
    pending = "pending"  # created, waiting for the gateway's notification
    paid = "paid"
    failed = "failed"  # the gateway said the payment did not go through
    expired = "expired"  # the booking hold ended before payment
    refunded = "refunded"  # every fen back
    partially_refunded = "partially_refunded"


OPEN = frozenset({OrderStatus.pending})
REFUNDABLE = frozenset({OrderStatus.paid, OrderStatus.partially_refunded})

ORDER_LABELS: dict[OrderStatus, tuple[str, str]] = {
    OrderStatus.pending: ("待支付", "Awaiting payment"),
    OrderStatus.paid: ("已支付", "Paid"),
    OrderStatus.failed: ("支付失败", "Payment failed"),
    OrderStatus.expired: ("已失效", "Expired"),
    OrderStatus.refunded: ("已退款", "Refunded"),
    OrderStatus.partially_refunded: ("部分退款", "Partly refunded"),
}


class TopLevel(StrEnum):
    """Hospital levels as insurance ratios know them (三级 / 二级 / 一级 and unrated)."""

    tertiary = "tertiary"
    secondary = "secondary"
    primary = "primary"


def insurance_level(registry_level: str) -> str:
    """The registry's 医院等级 (三级甲等 …) as the insurance policies' hospital level."""
    if registry_level.startswith("三级"):
        return TopLevel.tertiary.value
    if registry_level.startswith("二级"):
        return TopLevel.secondary.value
    return TopLevel.primary.value
