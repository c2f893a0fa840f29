"""Pure rules of prescriptions: who may do what, which status changes are legal, and the pickup code.

No I/O: the service reads the facts (the principal's own doctor record, the patients they act for)
and asks here. Sources: 处方管理办法 (2007); 互联网诊疗管理办法(试行) (2018) 第十九条 (online
prescriptions reviewed by a pharmacist before they take effect); 医疗机构处方审核规范 (2018);
医疗机构从业人员行为规范 (2012) on 统方.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from regio.care.prescription.enums import Status
from regio.core.access import Principal, Role, ScopeKind

PICKUP_CODE_DIGITS = 8
MAX_PIN_FAILURES = 5
PIN_LOCK_MINUTES = 15


class Action(StrEnum):
    prescribe = "prescribe"  # write, change, sign or withdraw
    read = "read"
    review = "review"  # claim, approve, reject, return
    fulfil = "fulfil"  # choose pickup or delivery
    statistics = "statistics"  # per-doctor figures (统方)


@dataclass(frozen=True, slots=True)
class Target:
    doctor_id: int | None = None
    hospital_id: int | None = None
    patient_id: int | None = None
    pharmacy_id: int | None = None  # where it is (to be) dispensed
    signed: bool = True  # a draft is the doctor's own working copy until it is signed


@dataclass(frozen=True, slots=True)
class Facts:
    own_doctor_id: int | None = None
    actable_patient_ids: frozenset[int] = frozenset()


def _the_doctor(principal: Principal, facts: Facts, target: Target) -> bool:
    return (
        principal.is_person
        and principal.has_role(Role.doctor)
        and facts.own_doctor_id is not None
        and facts.own_doctor_id == target.doctor_id
    )


def _the_patient(principal: Principal, facts: Facts, target: Target) -> bool:
    return (
        principal.is_person
        and principal.has_role(Role.patient)
        and target.patient_id is not None
        and target.patient_id in facts.actable_patient_ids
    )


def hospital_pharmacist(principal: Principal, hospital_id: int | None) -> bool:
    return (
        principal.is_person
        and hospital_id is not None
        and principal.has_role(Role.pharmacist, ScopeKind.hospital, str(hospital_id))
    )


def pharmacy_staff(principal: Principal, *, pharmacy_id: int, hospital_id: int | None) -> bool:
    """A hospital pharmacy's staff are its hospital's pharmacists; a retail pharmacy's are scoped to it."""
    if not principal.is_person:
        return False
    if principal.has_role(Role.pharmacist, ScopeKind.pharmacy, str(pharmacy_id)):
        return True
    return hospital_pharmacist(principal, hospital_id)


def may(principal: Principal, action: Action, target: Target, facts: Facts = Facts()) -> bool:
    """The prescription subdomain's one access decision; whatever is not allowed here is denied.

    The attending doctor prescribes personally (no admin, pharmacist or system writes for them). The
    prescribing hospital's pharmacists review. The patient (and users bound to them) read and choose
    pickup or delivery. The dispensing pharmacy's staff read what they dispense. Per-doctor statistics
    are the hospital's quality officers' alone: not even its admin sees them (no 统方).
    """
    if not principal.is_authenticated:
        return False
    doctor = _the_doctor(principal, facts, target)
    if action is Action.prescribe:
        return doctor
    if action is Action.review:
        return hospital_pharmacist(principal, target.hospital_id)
    if action is Action.fulfil:
        return _the_patient(principal, facts, target)
    if action is Action.read:
        if not target.signed:
            return doctor
        return (
            doctor
            or _the_patient(principal, facts, target)
            or hospital_pharmacist(principal, target.hospital_id)
            or (
                target.pharmacy_id is not None
                and pharmacy_staff(principal, pharmacy_id=target.pharmacy_id, hospital_id=None)
            )
        )
    if action is Action.statistics:
        return (
            principal.is_person
            and target.hospital_id is not None
            and principal.has_role(Role.quality_officer, ScopeKind.hospital, str(target.hospital_id))
        )
    return False


# ---- status changes -------------------------------------------------------------------------------

TRANSITIONS: dict[str, frozenset[Status]] = {
    "edit": frozenset({Status.draft, Status.returned}),
    "sign": frozenset({Status.draft, Status.returned}),
    "withdraw": frozenset({Status.draft, Status.returned, Status.submitted}),
    "claim": frozenset({Status.submitted}),
    "release": frozenset({Status.in_review}),
    "approve": frozenset({Status.in_review}),
    "reject": frozenset({Status.in_review}),
    "return": frozenset({Status.in_review}),
    "fulfil": frozenset({Status.approved}),
    "dispense": frozenset({Status.approved}),
}


def allowed_from(step: str) -> frozenset[Status]:
    return TRANSITIONS[step]


def new_pickup_code() -> str:
    """A one-time pickup code: 8 random digits (10^8 possibilities; the code is tied to one pharmacy)."""
    return "".join(secrets.choice("0123456789") for _ in range(PICKUP_CODE_DIGITS))
