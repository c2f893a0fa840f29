"""Named states of prescriptions, fulfilment and delivery, with their FHIR R4 counterparts."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a prescription stands. Only `approved` is in effect (审方: review before effect)."""

    draft = "draft"  # written, not yet signed
    submitted = "submitted"  # signed, waiting in the hospital's review queue
    in_review = "in_review"  # claimed by one pharmacist
    returned = "returned"  # sent back to the doctor for a change; a draft again
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"  # withdrawn by the doctor before approval
    dispensed = "dispensed"


# FHIR R4 MedicationRequest.status: draft | active | on-hold | cancelled | completed | ...
FHIR_STATUS = {
    Status.draft: "draft",
    Status.returned: "draft",
    Status.submitted: "on-hold",
    Status.in_review: "on-hold",
    Status.approved: "active",
    Status.rejected: "cancelled",
    Status.cancelled: "cancelled",
    Status.dispensed: "completed",
}

STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.draft: ("草稿", "Draft"),
    Status.submitted: ("待审方", "Awaiting review"),
    Status.in_review: ("审方中", "In review"),
    Status.returned: ("退回修改", "Returned for change"),
    Status.approved: ("审核通过", "Approved"),
    Status.rejected: ("审核不通过", "Rejected"),
    Status.cancelled: ("已撤销", "Withdrawn"),
    Status.dispensed: ("已发药", "Dispensed"),
}

# The doctor may change these; everything after signing is locked.
EDITABLE = frozenset({Status.draft, Status.returned})
WAITING_REVIEW = frozenset({Status.submitted, Status.in_review})


class Method(StrEnum):
    pickup = "pickup"  # 自取
    delivery = "delivery"  # 配送


class PharmacyKind(StrEnum):
    hospital = "hospital"
    retail = "retail"  # a designated retail pharmacy (定点零售药店)


class Delivery(StrEnum):
    """A courier's shipment states, in the order they happen; `failed` ends it like `delivered`."""

    requested = "requested"  # we asked the courier; no answer yet
    accepted = "accepted"
    picked_up = "picked_up"
    in_transit = "in_transit"
    delivered = "delivered"
    failed = "failed"


DELIVERY_ORDER = {state: rank for rank, state in enumerate(Delivery)}
DELIVERY_FINAL = frozenset({Delivery.delivered, Delivery.failed})
DELIVERY_LABELS: dict[Delivery, tuple[str, str]] = {
    Delivery.requested: ("已下单", "Requested"),
    Delivery.accepted: ("快递已接单", "Accepted"),
    Delivery.picked_up: ("已揽收", "Picked up"),
    Delivery.in_transit: ("配送中", "In transit"),
    Delivery.delivered: ("已送达", "Delivered"),
    Delivery.failed: ("配送失败", "Failed"),
}
