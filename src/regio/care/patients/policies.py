"""Who may do what with patient records and bindings: pure rules, default deny, no I/O.

Only a person holding the patient role acts here, and only through an active binding.
Nobody approves a claim to BE someone: that is proved with a one-time code sent to the phone
on the record, the one key to a record the platform has; an adult's consent to be bound is
given in their own account or by handing the requester such a code.
Doctors and pharmacists get no access to patient records in this subdomain (later issues
grant it through consultations); health_admin and regulator see no clear personal data;
institution systems (API clients) are not people and cannot hold bindings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from regio.care.patients.models import BindingStatus, Relation
from regio.core.access import Principal, Role


class PatientAction(StrEnum):
    list = "list"
    read = "read"
    register = "register"
    bind = "bind"  # request a binding to an already registered person
    accept = "accept"  # accept or decline someone's pending request
    reveal = "reveal"  # see the clear identity number and phone
    unbind = "unbind"  # end a binding (or withdraw a pending request)
    claim = "claim"  # prove with a code to the record's phone that one is the person


# Look-ups that tell whether an identity number is registered (registrations, binding requests,
# claims, codes sent) are limited per user, so nobody can walk through the number space.
LOOKUPS_PER_HOUR = 20
LOOKUP_WINDOW = timedelta(hours=1)
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
CODE_ATTEMPTS = 5
FORM_TOKEN_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class BindingFacts:
    id: int
    user_id: int
    relation: Relation
    is_guardian: bool
    status: BindingStatus
    requested_by_user_id: int


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What a decision about one patient needs to know, read by the service beforehand."""

    account_user_id: int | None  # the account that IS this person, if any
    is_minor: bool
    open_bindings: tuple[BindingFacts, ...] = ()  # every binding of the patient that has not ended

    def active_binding_of(self, user_id: int | None) -> BindingFacts | None:
        for binding in self.open_bindings:
            if binding.user_id == user_id and binding.status is BindingStatus.active:
                return binding
        return None

    def guardians(self) -> frozenset[int]:
        return frozenset(
            b.user_id for b in self.open_bindings if b.status is BindingStatus.active and b.is_guardian
        )

    def active_users(self) -> frozenset[int]:
        return frozenset(b.user_id for b in self.open_bindings if b.status is BindingStatus.active)


def acts_as_patient(principal: Principal) -> bool:
    """A signed-in person (not an institution's system) holding the patient role."""
    return principal.is_person and principal.has_role(Role.patient)


def becomes_guardian(*, relation: Relation, is_minor: bool, registering: bool) -> bool:
    """Who manages a minor's record: whoever registered the minor, and a parent bound later.

    An aunt or a family friend bound later acts for the child but does not become a guardian.
    """
    if not is_minor or relation is Relation.self_:
        return False
    return registering or relation is Relation.child


def registration_status(*, relation: Relation, is_minor: bool) -> BindingStatus:
    """How a registration binds its registrar: oneself and a minor at once, another adult only with consent.

    An adult registered by someone else has not agreed to anything yet; the registrar's binding
    waits until the person accepts in their own account or hands over the code sent to their phone.
    """
    if relation is Relation.self_ or is_minor:
        return BindingStatus.active
    return BindingStatus.pending


def approvers(patient: PatientFacts, binding: BindingFacts) -> frozenset[int]:
    """The users whose consent turns a pending binding active; the requester never approves their own.

    An adult consents for themselves, through their own account; until an adult without an
    account claims their record, requests to bind them wait (or the person hands over a code).
    A minor's guardians decide for the minor (the minor's own account only when no guardian is
    bound). A claim to BE the person is never approved by anyone: only the code proves it.
    """
    if binding.relation is Relation.self_:
        return frozenset()
    account = frozenset({patient.account_user_id}) if patient.account_user_id is not None else frozenset()
    chosen = (patient.guardians() or account) if patient.is_minor else account
    return chosen - {binding.requested_by_user_id}


def may_consent_by_code(patient: PatientFacts, binding: BindingFacts) -> bool:
    """An adult may agree to a pending binding by handing its requester the code sent to their phone.

    Not for minors, whose guardians decide, and never for a claim to be the person.
    """
    return (
        binding.status is BindingStatus.pending
        and binding.relation is not Relation.self_
        and not patient.is_minor
    )


def code_usable(
    *, expires_at: datetime, used_at: datetime | None, attempts: int, now: datetime
) -> str | None:
    """Why a code can no longer be tried ("expired" or "exhausted"), or None while it can."""
    if used_at is not None or now >= expires_at:
        return "expired"
    if attempts >= CODE_ATTEMPTS:
        return "exhausted"
    return None


def window_start(now: datetime) -> datetime:
    """The fixed hour a look-up is counted in."""
    return now.replace(minute=0, second=0, microsecond=0)


def decide(
    principal: Principal,
    action: PatientAction,
    *,
    patient: PatientFacts | None = None,
    binding: BindingFacts | None = None,
) -> bool:
    """The one access decision of this subdomain; anything not allowed below is denied."""
    if not acts_as_patient(principal):
        return False
    me = principal.user_id
    if action in (PatientAction.list, PatientAction.register, PatientAction.bind, PatientAction.claim):
        return True
    if patient is None:
        return False
    own = patient.active_binding_of(me)
    if action is PatientAction.read:
        return own is not None
    if action is PatientAction.reveal:
        if own is None:
            return False
        is_the_person = own.relation is Relation.self_ and patient.account_user_id == me
        return is_the_person or (own.is_guardian and patient.is_minor)
    if binding is None:
        return False
    if action is PatientAction.accept:
        return binding.status is BindingStatus.pending and me in approvers(patient, binding)
    if action is PatientAction.unbind:
        if binding.status is BindingStatus.ended:
            return False
        if binding.user_id == me:
            return True  # the binder may always let go (or withdraw a request)
        # The person may take anyone's access to them away, except a minor their guardian's.
        is_the_person = patient.account_user_id is not None and patient.account_user_id == me
        return is_the_person and not (patient.is_minor and binding.is_guardian)
    return False
