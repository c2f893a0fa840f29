"""Words of the warnings subdomain: who a warning is for, its state, parties' roles, task states."""

from __future__ import annotations

from enum import StrEnum


class RecipientKind(StrEnum):
    jurisdiction = "jurisdiction"  # a province, prefecture or county, keyed by level and adcode
    body = "body"  # a coordination body (综合性协调机构), keyed by slug


class WarningStatus(StrEnum):
    active = "active"
    cancelled = "cancelled"  # the report was withdrawn
    closed = "closed"  # the event is over


class PartyRole(StrEnum):
    """发生地为主、波及地为辅: the origin leads, the affected support, the body coordinates."""

    lead = "lead"
    support = "support"
    coordinate = "coordinate"
    take_over = "take_over"  # the level above, when the event exceeds the body's capacity


class TaskStatus(StrEnum):
    open = "open"
    done = "done"


class FeedKind(StrEnum):
    """What a dashboard line says; every change a dashboard shows is one stored feed row."""

    warning = "warning"  # a new warning for this audience
    updated = "updated"  # the event behind a warning changed (level, headline, reach)
    acknowledged = "acknowledged"
    escalated = "escalated"
    cancelled = "cancelled"
    task = "task"  # a task was added or completed
    reminder = "reminder"  # a task is overdue
    take_over = "take_over"  # the level above takes the event over


ROLE_NAMES = {
    PartyRole.lead: ("牵头（发生地）", "Lead (origin)"),
    PartyRole.support: ("配合（波及地）", "Support (affected)"),
    PartyRole.coordinate: ("协调（协调机构）", "Coordinate (body)"),
    PartyRole.take_over: ("接管（上级）", "Take over (level above)"),
}

LEVEL_COLOURS = {1: ("红色", "red"), 2: ("橙色", "orange"), 3: ("黄色", "yellow"), 4: ("蓝色", "blue")}
GRADE_NAMES = {
    1: ("Ⅰ级 特别重大", "Grade I"),
    2: ("Ⅱ级 重大", "Grade II"),
    3: ("Ⅲ级 较大", "Grade III"),
    4: ("Ⅳ级 一般", "Grade IV"),
}
