"""Pure rules of consultation: who may do what (default deny), the life cycle, the queue, file types,
chat retention and TURN credentials. No I/O: the service reads the facts and asks here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from regio.care.consultation.enums import URGENCY_RANK, Side, Status, Urgency
from regio.core.access import Principal, Role

# 互联网诊疗监管细则(试行) (2022): chat, audio and video of consultations are kept at least 3 years.
RETENTION_YEARS = 3
MAX_MESSAGE_CHARS = 4000


class Action(StrEnum):
    read = "read"  # the room, the messages, the attachments
    write = "write"  # send a message or an attachment, mark read
    call = "call"  # start, answer, end a call; WebRTC signalling
    start = "start"  # waiting → in progress
    complete = "complete"  # in progress → completed
    cancel = "cancel"  # waiting → cancelled
    no_show = "no_show"  # waiting → no-show
    purge = "purge"  # delete the chat after the retention period


@dataclass(frozen=True, slots=True)
class Facts:
    """What a decision needs to know about one consultation and the principal's ties to it."""

    patient_id: int
    doctor_id: int
    status: Status
    actable_patient_ids: frozenset[int] = frozenset()  # patients the principal is bound to now
    own_doctor_id: int | None = None  # the registry doctor the principal's account is


def side_of(principal: Principal, facts: Facts) -> Side | None:
    """Which side of the consultation the principal is on, if any: patient side, doctor, or none."""
    if not principal.is_person:
        return None
    if principal.has_role(Role.doctor) and facts.own_doctor_id is not None:
        if facts.own_doctor_id == facts.doctor_id:
            return Side.doctor
    if principal.has_role(Role.patient) and facts.patient_id in facts.actable_patient_ids:
        return Side.patient
    return None


_PATIENT_MAY = {Action.read, Action.write, Action.call, Action.cancel}
_DOCTOR_MAY = {
    Action.read,
    Action.write,
    Action.call,
    Action.start,
    Action.complete,
    Action.cancel,
    Action.no_show,
}


def may(principal: Principal, action: Action, facts: Facts) -> bool:
    """The consultation subdomain's one access decision; whatever is not allowed here is denied.

    Chat is health data: only the two sides of the consultation see it. No administrator,
    regulator or platform role reads it through this subdomain; purging after the retention
    period is the platform's own job, never a request's.
    """
    side = side_of(principal, facts)
    if side is Side.patient:
        return action in _PATIENT_MAY
    if side is Side.doctor:
        return action in _DOCTOR_MAY
    return False


# ---- life cycle -------------------------------------------------------------------------------------

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.waiting: frozenset({Status.in_progress, Status.cancelled, Status.no_show}),
    Status.in_progress: frozenset({Status.completed}),
    Status.completed: frozenset(),
    Status.cancelled: frozenset(),
    Status.no_show: frozenset(),
}


def may_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def open_for_messages(status: Status) -> bool:
    """The patient may write while waiting (to describe the complaint); nobody after the end."""
    return status in (Status.waiting, Status.in_progress)


# ---- queue ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueItem:
    consultation_id: int
    scheduled_at: datetime
    urgency: Urgency
    created_at: datetime
    status: Status


def queue_key(item: QueueItem) -> tuple[int, datetime, int, datetime, int]:
    """In progress first, then by slot time, then the more urgent first, then who came first."""
    return (
        0 if item.status is Status.in_progress else 1,
        item.scheduled_at,
        -URGENCY_RANK[item.urgency],
        item.created_at,
        item.consultation_id,
    )


def ordered_queue(items: Sequence[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=queue_key)


def expected_wait_minutes(ahead: int, average_minutes: float) -> int:
    """People ahead × the doctor's average consultation length, rounded up to whole minutes."""
    if ahead <= 0:
        return 0
    whole = ahead * average_minutes
    return int(whole) + (0 if whole == int(whole) else 1)


# ---- attachments ------------------------------------------------------------------------------------


# Magic numbers: PNG (ISO/IEC 15948), JPEG (JFIF/Exif SOI marker), WebP (RIFF container), PDF (ISO 32000).
def sniff_content_type(data: bytes) -> str | None:
    """The file's type from its first bytes, whatever its name or declared type; None if not allowed."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def clean_file_name(name: str | None) -> str:
    """Only the last path part, printable, at most 200 characters: a label, never a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:200]


# ---- retention --------------------------------------------------------------------------------------


def keep_until(ended: date) -> date:
    try:
        return ended.replace(year=ended.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        return ended.replace(year=ended.year + RETENTION_YEARS, day=28) + timedelta(days=1)


def retention_elapsed(ended: date | None, today: date) -> bool:
    """Only an ended consultation whose 3 years have passed may lose its chat."""
    return ended is not None and today >= keep_until(ended)


# ---- TURN -------------------------------------------------------------------------------------------


def turn_credentials(*, secret: str, user: str, now: int, ttl_seconds: int) -> tuple[str, str]:
    """Time-limited TURN credentials as coturn's REST API expects (use-auth-secret):

    username = "<expiry unix time>:<user>", credential = base64(HMAC-SHA1(secret, username)).
    """
    username = f"{now + ttl_seconds}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def split_urls(value: str, schemes: tuple[str, ...]) -> list[str]:
    return [url.strip() for url in value.split(",") if url.strip().startswith(schemes)]
