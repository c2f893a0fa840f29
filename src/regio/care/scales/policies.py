"""Pure rules of scales: scoring a response, and who may see or act on what (default deny).

No I/O: the scale comes from the catalog, the facts (bindings, alert recipients) from the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from regio.care.scales import errors
from regio.care.scales.catalog import Band, Flag, Scale
from regio.core.access import Principal, Role


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    band: Band
    flags: tuple[Flag, ...]

    @property
    def urgent(self) -> bool:
        return any(flag.urgent for flag in self.flags)


def score(scale: Scale, answers: list[int]) -> Scored:
    """The total, its severity band and the flags the answers raise; 422 for a wrong count or value."""
    if len(answers) != len(scale.items):
        raise errors.WrongAnswerCount(scale=scale.id, expected=len(scale.items), given=len(answers))
    allowed = scale.option_values
    for position, value in enumerate(answers, start=1):
        if value not in allowed:
            raise errors.AnswerOutOfRange(position=position, value=value, allowed=sorted(allowed))
    total = sum(answers)
    band = next(band for band in scale.bands if band.low <= total <= band.high)
    by_link = {item.link_id: value for item, value in zip(scale.items, answers, strict=True)}
    fired = tuple(flag for flag in scale.flags if by_link[flag.item] > flag.above)
    return Scored(score=total, band=band, flags=fired)


# ---- access -------------------------------------------------------------------------------------------


def may_submit(principal: Principal) -> bool:
    """A signed-in person with the patient role answers for themselves or a bound family member."""
    return principal.is_person and principal.has_role(Role.patient)


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    patient_id: int
    alert_recipient_user_ids: frozenset[int] = frozenset()


def may_read_response(
    principal: Principal, facts: ResponseFacts, actable_patient_ids: frozenset[int]
) -> bool:
    """The patient and those bound to them; a doctor only when an alert about it was sent to them.

    Admins, regulators and the platform itself do not read answers about someone's mind.
    """
    if not principal.is_person or principal.user_id is None:
        return False
    if principal.has_role(Role.patient) and facts.patient_id in actable_patient_ids:
        return True
    return principal.has_role(Role.doctor) and principal.user_id in facts.alert_recipient_user_ids


def may_see_alert(principal: Principal, recipient_user_ids: frozenset[int]) -> bool:
    """Whoever the alert was sent to (on-duty psychiatrists, and on escalation admins and doctors)."""
    return principal.is_person and principal.user_id is not None and principal.user_id in recipient_user_ids


def may_acknowledge(principal: Principal, recipient_user_ids: frozenset[int]) -> bool:
    """A doctor the alert was sent to; an admin told on escalation dispatches, a doctor takes it on."""
    return may_see_alert(principal, recipient_user_ids) and principal.has_role(Role.doctor)
