"""Statuses and kinds of consultation records, stored as strings and guarded by check constraints.

They follow FHIR R4 Encounter (planned → in-progress → finished / cancelled) and Communication.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """图文 / 语音 / 视频问诊."""

    text = "text"
    voice = "voice"
    video = "video"


class Source(StrEnum):
    appointment = "appointment"
    quick_question = "quick_question"  # 极速提问


class Status(StrEnum):
    waiting = "waiting"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


OPEN_STATUSES = (Status.waiting, Status.in_progress)


class QuestionStatus(StrEnum):
    offered = "offered"  # waiting for a doctor on duty to accept
    accepted = "accepted"
    cancelled = "cancelled"


class Urgency(StrEnum):
    """How soon the doctor should see the patient; higher rank first within one slot time."""

    routine = "routine"
    soon = "soon"
    urgent = "urgent"


URGENCY_RANK = {Urgency.routine: 0, Urgency.soon: 1, Urgency.urgent: 2}


class Side(StrEnum):
    """Who wrote a message: the patient's side (the patient or a bound user), the doctor, the platform."""

    patient = "patient"
    doctor = "doctor"
    system = "system"


class MessageKind(StrEnum):
    text = "text"
    attachment = "attachment"
    call = "call"  # a call started or ended, with its duration
    status = "status"  # the consultation started, completed, was cancelled


class CallStatus(StrEnum):
    ringing = "ringing"
    connected = "connected"
    ended = "ended"
