"""Statuses of scale alerts, stored as strings and guarded by check constraints."""

from __future__ import annotations

from enum import StrEnum


class AlertStatus(StrEnum):
    raised = "raised"  # on-duty psychiatrists told; waiting for one of them to acknowledge
    escalated = "escalated"  # nobody acknowledged in time: hospital admins and all on-duty doctors told
    acknowledged = "acknowledged"  # a doctor took it on; final


OPEN_ALERT = (AlertStatus.raised, AlertStatus.escalated)


class RecipientReason(StrEnum):
    on_duty = "on_duty"  # a psychiatrist with a shift at the moment the alert was raised
    escalation = "escalation"  # a hospital admin or an on-duty doctor told when it escalated


class NoticeKind(StrEnum):
    raised = "raised"
    escalated = "escalated"
