"""The access matrix of the patients subdomain: role × action × own/other record, default deny."""

from __future__ import annotations

import pytest

from regio.care.patients.models import BindingStatus, Relation
from regio.care.patients.policies import (
    BindingFacts,
    PatientAction,
    PatientFacts,
    approvers,
    becomes_guardian,
    code_usable,
    decide,
    may_consent_by_code,
    registration_status,
)
from regio.core.access import Principal, Role, RoleGrant
from tests.care.patients.conftest import grant_for

ME, OWNER, REQUESTER, RELATIVE = 1, 2, 3, 4


def binding(
    binding_id: int,
    user_id: int,
    relation: Relation,
    status: BindingStatus = BindingStatus.active,
    *,
    guardian: bool = False,
    requested_by: int | None = None,
) -> BindingFacts:
    return BindingFacts(
        id=binding_id,
        user_id=user_id,
        relation=relation,
        is_guardian=guardian,
        status=status,
        requested_by_user_id=requested_by if requested_by is not None else user_id,
    )


def record_of(person: int) -> tuple[PatientFacts, BindingFacts, BindingFacts]:
    """A record whose account is `person`, with a pending request and a relative's active binding."""
    pending = binding(11, REQUESTER, Relation.parent, BindingStatus.pending)
    relatives = binding(12, RELATIVE, Relation.spouse)
    facts = PatientFacts(
        account_user_id=person,
        is_minor=False,
        open_bindings=(binding(10, person, Relation.self_), pending, relatives),
    )
    return facts, pending, relatives


def target_for(action: PatientAction, pending: BindingFacts, relatives: BindingFacts) -> BindingFacts | None:
    return {PatientAction.accept: pending, PatientAction.unbind: relatives}.get(action)


# What a patient may do; every other role may do nothing here.
PATIENT_ALLOWED = {
    ("own", PatientAction.list),
    ("own", PatientAction.register),
    ("own", PatientAction.bind),
    ("own", PatientAction.read),
    ("own", PatientAction.accept),
    ("own", PatientAction.reveal),
    ("own", PatientAction.unbind),
    ("own", PatientAction.claim),
    # listing, registering, requesting and claiming with a code are not about one record
    ("other", PatientAction.list),
    ("other", PatientAction.register),
    ("other", PatientAction.bind),
    ("other", PatientAction.claim),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(PatientAction))
@pytest.mark.parametrize("whose", ["own", "other"])
def test_access_matrix(role: Role, action: PatientAction, whose: str) -> None:
    principal = Principal(user_id=ME, username="me", grants=frozenset({grant_for(role)}))
    facts, pending, relatives = record_of(ME if whose == "own" else OWNER)
    allowed = decide(principal, action, patient=facts, binding=target_for(action, pending, relatives))
    assert allowed == (role is Role.patient and (whose, action) in PATIENT_ALLOWED)


@pytest.mark.parametrize("action", list(PatientAction))
def test_an_institution_system_is_never_a_patient(action: PatientAction) -> None:
    system = Principal(user_id=None, client_id=7, username="his", grants=frozenset({RoleGrant(Role.patient)}))
    facts, pending, relatives = record_of(ME)
    assert decide(system, action, patient=facts, binding=target_for(action, pending, relatives)) is False


@pytest.mark.parametrize(
    "action", [PatientAction.read, PatientAction.reveal, PatientAction.accept, PatientAction.unbind]
)
def test_record_actions_without_facts_are_denied(action: PatientAction) -> None:
    principal = Principal(user_id=ME, username="me", grants=frozenset({RoleGrant(Role.patient)}))
    assert decide(principal, action) is False


def test_a_pending_binding_does_not_let_one_read() -> None:
    principal = Principal(user_id=ME, username="me", grants=frozenset({RoleGrant(Role.patient)}))
    facts = PatientFacts(
        account_user_id=OWNER,
        is_minor=False,
        open_bindings=(
            binding(1, OWNER, Relation.self_),
            binding(2, ME, Relation.child, BindingStatus.pending),
        ),
    )
    assert decide(principal, PatientAction.read, patient=facts) is False


def minor(*bindings: BindingFacts, account: int | None = None, is_minor: bool = True) -> PatientFacts:
    return PatientFacts(account_user_id=account, is_minor=is_minor, open_bindings=bindings)


def test_a_guardian_reveals_a_minors_numbers_until_the_minor_comes_of_age() -> None:
    principal = Principal(user_id=ME, username="me", grants=frozenset({RoleGrant(Role.patient)}))
    mine = binding(1, ME, Relation.child, guardian=True)
    assert decide(principal, PatientAction.reveal, patient=minor(mine)) is True
    assert decide(principal, PatientAction.reveal, patient=minor(mine, is_minor=False)) is False


def test_a_bound_relative_who_is_not_a_guardian_cannot_reveal() -> None:
    principal = Principal(user_id=ME, username="me", grants=frozenset({RoleGrant(Role.patient)}))
    assert decide(principal, PatientAction.reveal, patient=minor(binding(1, ME, Relation.other))) is False


def test_approvers_of_a_minor_are_its_guardians_else_its_own_account() -> None:
    request = binding(9, REQUESTER, Relation.child, BindingStatus.pending)
    guardian = binding(1, OWNER, Relation.child, guardian=True)
    relative = binding(2, RELATIVE, Relation.other)
    assert approvers(minor(guardian, relative, request, account=ME), request) == {OWNER}
    assert approvers(minor(relative, request, account=ME), request) == {ME}
    assert approvers(minor(relative, request), request) == frozenset()


def test_approvers_of_an_adult_are_the_adult_alone() -> None:
    request = binding(9, REQUESTER, Relation.parent, BindingStatus.pending)
    relative = binding(2, RELATIVE, Relation.child)
    assert approvers(minor(relative, request, account=ME, is_minor=False), request) == {ME}
    assert approvers(minor(relative, request, is_minor=False), request) == frozenset()


def test_nobody_approves_a_claim_to_be_someone_not_family_not_a_guardian() -> None:
    claim = binding(9, REQUESTER, Relation.self_, BindingStatus.pending)
    relative = binding(2, RELATIVE, Relation.child)
    guardian = binding(3, OWNER, Relation.child, guardian=True)
    assert approvers(minor(relative, claim, is_minor=False), claim) == frozenset()
    assert approvers(minor(relative, claim, account=ME, is_minor=False), claim) == frozenset()
    assert approvers(minor(guardian, relative, claim), claim) == frozenset()
    for user in (RELATIVE, OWNER, ME):
        principal = Principal(user_id=user, username="u", grants=frozenset({RoleGrant(Role.patient)}))
        facts = minor(guardian, relative, claim, account=ME)
        assert decide(principal, PatientAction.accept, patient=facts, binding=claim) is False


@pytest.mark.parametrize(
    ("relation", "is_minor", "status"),
    [
        (Relation.self_, False, BindingStatus.active),
        (Relation.child, True, BindingStatus.active),
        (Relation.other, True, BindingStatus.active),
        (Relation.spouse, False, BindingStatus.pending),
        (Relation.parent, False, BindingStatus.pending),
        (Relation.child, False, BindingStatus.pending),
        (Relation.other, False, BindingStatus.pending),
    ],
)
def test_registering_another_adult_binds_only_with_their_consent(
    relation: Relation, is_minor: bool, status: BindingStatus
) -> None:
    assert registration_status(relation=relation, is_minor=is_minor) is status


def test_only_an_adults_pending_family_binding_takes_consent_by_code() -> None:
    pending = binding(9, REQUESTER, Relation.parent, BindingStatus.pending)
    assert may_consent_by_code(minor(pending, is_minor=False), pending) is True
    assert may_consent_by_code(minor(pending, is_minor=True), pending) is False
    claim = binding(9, REQUESTER, Relation.self_, BindingStatus.pending)
    assert may_consent_by_code(minor(claim, is_minor=False), claim) is False
    active = binding(9, REQUESTER, Relation.parent)
    assert may_consent_by_code(minor(active, is_minor=False), active) is False


def test_a_code_is_usable_for_ten_minutes_and_five_tries_once() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    later = now + timedelta(minutes=10)
    assert code_usable(expires_at=later, used_at=None, attempts=4, now=now) is None
    assert code_usable(expires_at=later, used_at=None, attempts=5, now=now) == "exhausted"
    assert code_usable(expires_at=later, used_at=None, attempts=0, now=later) == "expired"
    assert code_usable(expires_at=later, used_at=now, attempts=0, now=now) == "expired"


def test_nobody_approves_their_own_request() -> None:
    request = binding(9, ME, Relation.parent, BindingStatus.pending)
    assert approvers(minor(request, account=ME, is_minor=False), request) == frozenset()


@pytest.mark.parametrize(
    ("relation", "is_minor", "registering", "guardian"),
    [
        (Relation.child, True, True, True),
        (Relation.other, True, True, True),
        (Relation.other, True, False, False),
        (Relation.child, True, False, True),
        (Relation.self_, True, True, False),
        (Relation.child, False, True, False),
    ],
)
def test_who_becomes_a_guardian(
    relation: Relation, is_minor: bool, registering: bool, guardian: bool
) -> None:
    assert becomes_guardian(relation=relation, is_minor=is_minor, registering=registering) is guardian
