"""Pure rules of warnings: who may see and act on what (default deny), acknowledgement SLAs,
the level above, and when an event exceeds a coordination body's capacity. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from regio.core.access import Principal, Role, ScopeKind

LEVELS = ("province", "prefecture", "county")


class Action(StrEnum):
    read = "read"  # dashboards, an event's warnings, responsibility list and timeline
    acknowledge = "acknowledge"  # a warning addressed to one's own jurisdiction or body
    add_task = "add_task"  # on an event one leads, coordinates or has taken over
    complete_task = "complete_task"  # a task one's own jurisdiction or body owns
    manage_webhooks = "manage_webhooks"  # one's own jurisdiction's or body's subscriptions


# Who works with risks at all; anyone else (patients, doctors …) is refused.
_RISK_READERS = frozenset(
    {Role.city_officer, Role.coordinator, Role.evaluator, Role.regulator, Role.platform_admin}
)
_STEERING_ROLES = frozenset({"lead", "coordinate", "take_over"})


def jurisdiction_key(level: str, adcode: str) -> str:
    return f"{level}:{adcode}"


def body_key(slug: str) -> str:
    return f"body:{slug}"


def channel(key: str) -> str:
    """The live channel of an audience: `risk:jurisdiction:<level>:<adcode>` or `risk:body:<slug>`."""
    if key.startswith("body:"):
        return f"risk:{key}"
    return f"risk:jurisdiction:{key}"


def audiences(principal: Principal) -> frozenset[str]:
    """The recipient keys a principal answers for: its jurisdictions (at any level) and bodies.

    A role grant names an adcode, not a level, and some adcodes stand at two (Dongguan 441900):
    an officer answers for the adcode at every level it exists at.
    """
    keys: set[str] = set()
    for adcode in principal.scope_ids(Role.city_officer, ScopeKind.jurisdiction):
        keys.update(jurisdiction_key(level, adcode) for level in LEVELS)
    for slug in principal.scope_ids(Role.coordinator, ScopeKind.coordination_body):
        keys.add(body_key(slug))
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class Target:
    """What a decision needs to know about the thing acted on."""

    recipient_key: str | None = None  # the warning's addressee, or the task's owner
    party_roles: frozenset[tuple[str, str]] = frozenset()  # (party key, role) of the event


def decide(principal: Principal, action: Action, target: Target | None = None) -> bool:
    """One decision for every action; anything not allowed here is denied."""
    if not principal.is_authenticated:
        return False
    target = target or Target()
    own = audiences(principal)
    if action == Action.read:
        return bool(principal.roles & _RISK_READERS)
    if action in (Action.acknowledge, Action.complete_task, Action.manage_webhooks):
        # Only the addressee answers for itself: not the platform admin, not a neighbour.
        return target.recipient_key is not None and target.recipient_key in own
    if action == Action.add_task:
        return any(key in own and role in _STEERING_ROLES for key, role in target.party_roles)
    return False


# --- SLAs, levels and capacity -------------------------------------------------------------------


def parse_sla_minutes(text: str) -> tuple[int, int, int, int]:
    """REGIO_WARNING_ACK_SLA_MINUTES "15,60,240,1440" as minutes for level/grade 1..4."""
    parts = tuple(int(part.strip()) for part in text.split(","))
    if len(parts) != 4 or any(minutes <= 0 for minutes in parts):
        raise ValueError("four positive minute counts are needed, for levels 1 to 4")
    return parts[0], parts[1], parts[2], parts[3]


def ack_sla(sla_minutes: tuple[int, int, int, int], level: int) -> timedelta:
    """How long a warning of a level (1 red / grade I highest … 4 blue / grade IV) may wait for an ack."""
    return timedelta(minutes=sla_minutes[min(4, max(1, level)) - 1])


def level_above(level: str, adcode: str) -> tuple[str, str] | None:
    """The jurisdiction one level up, by adcode (GB/T 2260): county → prefecture → province."""
    if level == "county":
        if adcode[:2] in _MUNICIPALITIES:
            return "province", adcode[:2] + "0000"
        return "prefecture", adcode[:4] + "00"
    if level == "prefecture":
        return "province", adcode[:2] + "0000"
    return None


# Beijing, Tianjin, Shanghai, Chongqing: their districts sit directly under the province-level city.
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})


def exceeds_body_capacity(kind: str, level: int) -> bool:
    """An event of grade I or II, or a risk at warning level 1 (red), is beyond a coordination
    body's capacity: the level above takes over (DOMAIN.md, risk rule 4)."""
    if kind == "event":
        return level <= 2
    return level <= 1


def effective_level(kind: str, warning_level: int | None, grade: int | None) -> int:
    """One number for both scales: a risk's warning level or an event's grade (1 highest)."""
    value = warning_level if kind == "risk" else grade
    return int(value) if value is not None else 4


def steering_parties(parties: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((key, role) for key, role in parties if role in _STEERING_ROLES)


@dataclass(frozen=True, slots=True)
class DefaultTask:
    key: str
    title: str
    title_en: str
    hours: float | None  # None: due with the acknowledgement SLA


# The tasks each role starts with on a responsibility list; people add more.
DEFAULT_TASKS: dict[str, tuple[DefaultTask, ...]] = {
    "lead": (
        DefaultTask("lead.first_response", "组织先期处置，控制事态", "Organise the first response", 1),
        DefaultTask("lead.progress_report", "报送事件进展与处置情况", "Report progress and measures", 6),
    ),
    "support": (
        DefaultTask(
            "support.acknowledge", "确认预警并启动本地响应", "Acknowledge and start the local response", None
        ),
        DefaultTask("support.exposure", "核查本地承灾对象并报告", "Check exposed targets here and report", 6),
    ),
    "coordinate": (
        DefaultTask(
            "coordinate.collect",
            "汇总各方信息，跟踪预警确认",
            "Collect information, watch acknowledgements",
            2,
        ),
        DefaultTask(
            "coordinate.resources", "协调跨区域资源调配", "Coordinate resources across jurisdictions", 12
        ),
    ),
    "take_over": (
        DefaultTask("take_over.command", "上级接管，统一指挥", "Take over command from the level below", 1),
    ),
}
