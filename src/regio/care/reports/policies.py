"""Pure rules of reports: the reference-range flag, which version may follow which, and who may do what.

No I/O: the service reads the facts (the principal's doctor record, the patients they may act for, the
doctors of the patient's consultations at the hospital) and asks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from regio.care.reports.enums import Flag, ReportStatus
from regio.core.access import Principal, Role, ScopeKind


def flag(value: float | None, low: float | None, high: float | None) -> Flag:
    """H above the high bound, L below the low bound, N within; without a number or a bound, no_range.

    The bounds belong to the range (FHIR: low and high are inclusive), so a value equal to a bound is
    normal. A range with one bound judges that side only ("≥ 3.5": nothing is too high).
    """
    if value is None or (low is None and high is None):
        return Flag.no_range
    if high is not None and value > high:
        return Flag.high
    if low is not None and value < low:
        return Flag.low
    return Flag.normal


def out_of_range(flags: list[Flag]) -> int:
    return sum(1 for item in flags if item in (Flag.high, Flag.low))


def may_follow(previous: ReportStatus | None, new: ReportStatus) -> bool:
    """Changed content after a released (final) version must say it is an amendment, correction or
    cancellation (FHIR DiagnosticReport.status); before release any status may follow."""
    if previous is None or not previous.settled:
        return True
    return new in (ReportStatus.amended, ReportStatus.corrected, ReportStatus.cancelled)


class Action(StrEnum):
    push = "push"
    read = "read"
    list_own = "list_own"


@dataclass(frozen=True, slots=True)
class Target:
    hospital_id: int | None = None
    patient_id: int | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the service read about the principal and the report beforehand."""

    own_doctor_id: int | None = None
    actable_patient_ids: frozenset[int] = frozenset()
    # The doctors of the patient's consultations at the report's hospital.
    treating_doctor_ids: frozenset[int] = frozenset()


def pushing_hospitals(principal: Principal) -> frozenset[int]:
    """The hospitals whose reports the principal may push: those it is hospital_admin of."""
    return frozenset(
        int(scope)
        for scope in principal.scope_ids(Role.hospital_admin, ScopeKind.hospital)
        if scope.isdigit()
    )


def _hospital_admin(principal: Principal, target: Target) -> bool:
    return target.hospital_id is not None and principal.has_role(
        Role.hospital_admin, ScopeKind.hospital, str(target.hospital_id)
    )


def _patient_side(principal: Principal, facts: Facts, target: Target) -> bool:
    return (
        principal.is_person
        and principal.has_role(Role.patient)
        and target.patient_id is not None
        and target.patient_id in facts.actable_patient_ids
    )


def _treating_doctor(principal: Principal, facts: Facts) -> bool:
    return (
        principal.is_person
        and principal.has_role(Role.doctor)
        and facts.own_doctor_id is not None
        and facts.own_doctor_id in facts.treating_doctor_ids
    )


def may(principal: Principal, action: Action, target: Target, facts: Facts = Facts()) -> bool:
    """The reports subdomain's one access decision; whatever is not allowed here is denied.

    A hospital's system (an API client) or administrator holding hospital_admin for that hospital
    pushes its reports; the platform itself may push (demo, imports). The patient and users bound to
    the patient read them; so do the hospital's administrators and the doctors who saw the patient in
    a consultation at that hospital. Nobody else, platform admins included: results are personal.
    """
    if not principal.is_authenticated:
        return False
    if action is Action.push:
        return principal.system or _hospital_admin(principal, target)
    if action is Action.read:
        return (
            _patient_side(principal, facts, target)
            or _hospital_admin(principal, target)
            or _treating_doctor(principal, facts)
        )
    if action is Action.list_own:
        return principal.is_person and principal.has_role(Role.patient)
    return False
