"""Codes of triage outcomes, stored as strings."""

from __future__ import annotations

from enum import StrEnum


class Urgency(StrEnum):
    """How soon the person should be seen, lowest first."""

    routine = "routine"
    moderate = "moderate"
    high = "high"
    emergency = "emergency"


URGENCY_LABELS = {
    Urgency.routine: ("常规", "Routine"),
    Urgency.moderate: ("尽快（1–2 天内）", "Soon (within 1–2 days)"),
    Urgency.high: ("紧急：今天当面就诊", "High: see a doctor in person today"),
    Urgency.emergency: ("危急：立即前往急诊", "Emergency: go to an emergency department now"),
}


class Advice(StrEnum):
    """What to do next."""

    emergency_now = "emergency_now"  # go offline: an emergency department now; online booking refused
    in_person_today = "in_person_today"  # online advice allowed, but see a doctor in person today
    online_consult = "online_consult"
    medication_advice = "medication_advice"  # a pharmacist or the specialist answers a medicine question
    follow_up_visit = "follow_up_visit"  # 复诊: a repeat prescription for a known condition


ADVICE_LABELS = {
    Advice.emergency_now: (
        "立即前往急诊，不要等待线上问诊",
        "Go to an emergency department now; do not wait online",
    ),
    Advice.in_person_today: (
        "今天到医院当面就诊（可先在线咨询）",
        "See a doctor in person today (online advice first is fine)",
    ),
    Advice.online_consult: ("可在线问诊", "An online consultation is suitable"),
    Advice.medication_advice: (
        "用药咨询：请医生或药师指导用药",
        "Medication advice from a doctor or pharmacist",
    ),
    Advice.follow_up_visit: ("复诊续方", "Follow-up visit for a repeat prescription"),
}


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"
