"""The pure rules: the access matrix, transitions, file sniffing, retention and TURN credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, date, datetime

import pytest

from regio.care.consultation import policies
from regio.care.consultation.enums import Side, Status
from regio.care.consultation.policies import Action, Facts
from regio.core.access import SYSTEM, Principal, Role, RoleGrant, ScopeKind


def person(*roles: Role, user_id: int = 10) -> Principal:
    return Principal(user_id=user_id, username=f"u{user_id}", grants=frozenset(RoleGrant(r) for r in roles))


PATIENT = person(Role.patient)
FAMILY = person(Role.patient, user_id=11)
DOCTOR = person(Role.doctor, user_id=20)
OTHER_DOCTOR = person(Role.doctor, user_id=21)
STRANGER = person(Role.patient, user_id=30)
HOSPITAL_ADMIN = Principal(
    user_id=40, username="ha", grants=frozenset({RoleGrant(Role.hospital_admin, ScopeKind.hospital, "1")})
)
PLATFORM_ADMIN = person(Role.platform_admin, user_id=50)
REGULATOR = person(Role.regulator, user_id=60)


def facts_for(principal: Principal) -> Facts:
    bound = {
        PATIENT.user_id: frozenset({7}),
        FAMILY.user_id: frozenset({7}),
        STRANGER.user_id: frozenset({8}),
    }
    own = {DOCTOR.user_id: 3, OTHER_DOCTOR.user_id: 4}
    return Facts(
        patient_id=7,
        doctor_id=3,
        status=Status.in_progress,
        actable_patient_ids=bound.get(principal.user_id, frozenset()),
        own_doctor_id=own.get(principal.user_id),
    )


ALLOWED = {
    "patient": {Action.read, Action.write, Action.call, Action.cancel},
    "family": {Action.read, Action.write, Action.call, Action.cancel},
    "doctor": {
        Action.read,
        Action.write,
        Action.call,
        Action.start,
        Action.complete,
        Action.cancel,
        Action.no_show,
    },
    "other_doctor": set(),
    "stranger": set(),
    "hospital_admin": set(),
    "platform_admin": set(),
    "regulator": set(),
    "system": set(),
}
WHO = {
    "patient": PATIENT,
    "family": FAMILY,
    "doctor": DOCTOR,
    "other_doctor": OTHER_DOCTOR,
    "stranger": STRANGER,
    "hospital_admin": HOSPITAL_ADMIN,
    "platform_admin": PLATFORM_ADMIN,
    "regulator": REGULATOR,
    "system": SYSTEM,
}


@pytest.mark.parametrize("who", sorted(WHO))
@pytest.mark.parametrize("action", list(Action))
def test_access_matrix_only_the_two_sides_touch_the_chat(who: str, action: Action) -> None:
    principal = WHO[who]
    assert policies.may(principal, action, facts_for(principal)) is (action in ALLOWED[who])


def test_a_doctor_who_is_also_a_patient_is_the_doctor_in_their_own_consultation() -> None:
    both = person(Role.doctor, Role.patient, user_id=20)
    facts = Facts(
        patient_id=7, doctor_id=3, status=Status.waiting, actable_patient_ids=frozenset({7}), own_doctor_id=3
    )
    assert policies.side_of(both, facts) is Side.doctor


def test_the_life_cycle_moves_only_forward() -> None:
    legal = {(a, b) for a, targets in policies.TRANSITIONS.items() for b in targets}
    assert legal == {
        (Status.waiting, Status.in_progress),
        (Status.waiting, Status.cancelled),
        (Status.waiting, Status.no_show),
        (Status.in_progress, Status.completed),
    }


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0JFIF", "image/jpeg"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"MZ\x90\x00", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'>", None),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
)
def test_file_types_are_told_by_their_first_bytes(head: bytes, expected: str | None) -> None:
    assert policies.sniff_content_type(head) == expected


def test_file_names_are_labels_never_paths() -> None:
    assert policies.clean_file_name("../../etc/passwd") == "passwd"
    assert policies.clean_file_name("C:\\Users\\x\\检查单.pdf") == "检查单.pdf"
    assert policies.clean_file_name("a\x00b\nc.png") == "abc.png"


def test_chat_is_kept_three_years_from_the_end_of_the_consultation() -> None:
    ended = date(2026, 3, 1)
    assert not policies.retention_elapsed(ended, date(2029, 2, 28))
    assert policies.retention_elapsed(ended, date(2029, 3, 1))
    assert not policies.retention_elapsed(None, date(2099, 1, 1))  # an open consultation is never purged
    assert policies.keep_until(date(2024, 2, 29)) == date(2027, 3, 1)


def test_turn_credentials_follow_the_coturn_rest_format() -> None:
    now = int(datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp())
    username, credential = policies.turn_credentials(secret="s3cret", user="42", now=now, ttl_seconds=3600)
    assert username == f"{now + 3600}:42"
    expected = base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()
    assert credential == expected
    # A different secret or expiry gives a different credential: the TURN server can check it.
    assert policies.turn_credentials(secret="other", user="42", now=now, ttl_seconds=3600)[1] != credential
    assert policies.turn_credentials(secret="s3cret", user="42", now=now, ttl_seconds=60)[0] != username


def test_expected_wait_rounds_up_to_whole_minutes() -> None:
    assert policies.expected_wait_minutes(0, 12.5) == 0
    assert policies.expected_wait_minutes(1, 12.5) == 13
    assert policies.expected_wait_minutes(2, 12.5) == 25
