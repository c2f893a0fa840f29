"""Prescription signing: RFC 8785 canonical JSON, PIN rules, sealed Ed25519 keys, sign and verify."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import struct
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from regio.care.prescription import signing
from regio.care.prescription.signing import (
    PinRejected,
    SealedKey,
    WrongPin,
    canonical_json,
    document_digest,
    new_key,
    sign,
    validate_pin,
    verify,
)

FAST_N = 2**10
PIN = "271828"
OWNER = "doctor:42"

# RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical JSON text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]

# ECMAScript Number::toString output: plain decimal, or one digit, optional fraction, signed exponent.
ES_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?|-?[1-9](\.[0-9]*[1-9])?e[+-][1-9][0-9]*")


def json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**53), max_value=2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )


@cache
def fast_key() -> SealedKey:
    return new_key(PIN, owner=OWNER, scrypt_n=FAST_N)


# --- numbers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (0.0, "0"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (333333333.33333329, "333333333.3333333"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740992, "9007199254740992"),
        (-9007199254740992, "-9007199254740992"),
        (0.000001, "0.000001"),
        (295147905179352830000.0, "295147905179352830000"),
        (2**68, "295147905179352830000"),
        # Not doubles themselves, but exactly the canonical text of one: what json.loads gives back.
        (295147905179352830000, "295147905179352830000"),
        (54237976487484620, "54237976487484620"),
        (10**21, "1e+21"),
        (4.5, "4.5"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (1e30, "1e+30"),
        (1e-27, "1e-27"),
        (100.0, "100"),
        (-1.5, "-1.5"),
        (123456.789e3, "123456789"),
        (1.23e-18, "1.23e-18"),
    ],
)
def test_numbers_in_ecmascript_form(value: float, expected: str) -> None:
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"dose": value})


@pytest.mark.parametrize(
    "value",
    [
        2**53 + 1,
        -(2**53) - 1,
        54237976487484621,  # nearest double 54237976487484624 prints as ...620, not ...621
        10**21 + 1,
        10**400,
        -(10**400),
    ],
)
def test_integers_that_are_not_exactly_a_double_are_refused(value: int) -> None:
    with pytest.raises(ValueError):
        canonical_json([value])


def test_bools_are_not_numbers() -> None:
    assert canonical_json([True, False, None, 1, 0]) == b"[true,false,null,1,0]"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_read_back_exactly_in_ecmascript_grammar(value: float) -> None:
    text = canonical_json(value).decode()
    assert ES_NUMBER.fullmatch(text), text
    assert float(text) == value


@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_safe_integers_print_as_plain_decimals(value: int) -> None:
    assert canonical_json(value) == str(value).encode()


@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_large_integers_are_never_rounded(value: int) -> None:
    try:
        text = canonical_json(value).decode()
    except ValueError:
        assert float(value) != value
        assert Decimal(canonical_json(float(value)).decode()) != value
    else:
        assert float(text) == float(value)
        assert float(value) == value or Decimal(text) == value


# --- strings and objects ------------------------------------------------------------------------------


def test_rfc8785_key_order_example() -> None:
    # RFC 8785 §3.2.3: sorted by UTF-16 code units, so U+1F600 (D83D DE00) comes before U+FB33.
    document = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(document) == expected.encode("utf-8")


def test_rfc8785_section_3_2_4_example() -> None:
    source = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected_hex = (
        "7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e756d62657273223a5b333333"
        "3333333333332e333333333333332c31652b33302c342e352c302e3030322c31652d32375d2c22737472696e"
        "67223a22e282ac245c75303030665c6e4127425c225c5c5c5c5c222f227d"
    )
    assert canonical_json(json.loads(source)).hex() == expected_hex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', '"\\""'),
        ("\\", '"\\\\"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
        ("\x0b", '"\\u000b"'),
        ("/", '"/"'),
        ("\x7f", '"\x7f"'),
        ("\u2028\u2029", '"\u2028\u2029"'),
        ("阿莫西林胶囊 0.25g", '"阿莫西林胶囊 0.25g"'),
        ("\U0001f48a", '"\U0001f48a"'),
    ],
)
def test_string_escaping(text: str, expected: str) -> None:
    assert canonical_json(text) == expected.encode("utf-8")


@given(st.text())
def test_strings_agree_with_the_standard_library(text: str) -> None:
    # json.dumps with ensure_ascii=False escapes exactly what RFC 8785 asks, in the same forms.
    assert canonical_json(text) == json.dumps(text, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udc00\ud800"])
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        canonical_json({"note": text})
    with pytest.raises(ValueError):
        canonical_json({text: 1})


def test_nested_structures() -> None:
    document = {
        "b": [1, {"z": None, "a": [True, 2.5, "x"]}, []],
        "a": {"d": {}, "c": (1, 2)},
        "": "empty key",
    }
    assert canonical_json(document) == (
        b'{"":"empty key","a":{"c":[1,2],"d":{}},"b":[1,{"a":[true,2.5,"x"],"z":null},[]]}'
    )


def test_str_enums_serialise_as_their_value() -> None:
    class Route(StrEnum):
        oral = "oral"

    assert canonical_json({Route.oral: Route.oral}) == b'{"oral":"oral"}'


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), 1 + 2j, frozenset()])
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json({"x": value})


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical_json({1: "one"})


def test_self_containing_structures_are_refused() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        canonical_json(loop)


def test_shared_but_acyclic_parts_are_fine() -> None:
    shared = {"code": "J01CA04"}
    assert canonical_json([shared, shared]) == b'[{"code":"J01CA04"},{"code":"J01CA04"}]'


@given(json_values())
def test_stable_under_json_round_trip(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once


@given(st.dictionaries(st.text(max_size=6), json_values(), max_size=8), st.randoms(use_true_random=False))
def test_key_insertion_order_does_not_matter(document: dict[str, Any], random: Any) -> None:
    items = list(document.items())
    random.shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(document)


def test_document_digest_is_sha256_of_canonical_json() -> None:
    assert document_digest({"a": 1}) == "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
    assert document_digest({"b": [1.0], "a": 1}) == document_digest({"a": 1, "b": [1]})
    assert document_digest({"a": 1}) != document_digest({"a": 2})


# --- PIN rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("", "too_short"),
        ("13579", "too_short"),
        ("a1" * 32 + "b", "too_long"),
        ("000000", "too_simple"),
        ("aaaaaaaa", "too_simple"),
        ("123456", "too_simple"),
        ("654321", "too_simple"),
        ("0123456789", "too_simple"),
        ("3456789", "too_simple"),
        ("１２３４５６", "too_simple"),  # full-width digits from a Chinese input method
        ("８８８８８８", "too_simple"),
    ],
)
def test_pins_refused(pin: str, reason: str) -> None:
    with pytest.raises(PinRejected) as refused:
        validate_pin(pin)
    assert refused.value.reason == reason
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    "pin", ["135790", "123457", "112233", "abcdef", "pässwörd", "医生签名口令", "a1" * 32, "9876543210x"]
)
def test_pins_accepted(pin: str) -> None:
    validate_pin(pin)


def test_new_key_checks_the_pin() -> None:
    with pytest.raises(PinRejected) as refused:
        new_key("123456", owner=OWNER, scrypt_n=FAST_N)
    assert refused.value.reason == "too_simple"


# --- sealed keys, sign and verify ---------------------------------------------------------------------


PRESCRIPTION: dict[str, Any] = {
    "id": "rx-2024-000123",
    "patient": {"id": 7, "name": "张三"},
    "doctor": {"id": 42, "name": "李医生"},
    "items": [
        {
            "atc": "J01CA04",
            "name": "阿莫西林胶囊",
            "strength": "0.25g",
            "dose": 0.5,
            "times_a_day": 3,
            "days": 5,
        },
    ],
    "diagnosis": ["J02.9"],
    "urgent": False,
}


def test_sealed_key_shape() -> None:
    key = fast_key()
    assert len(key.public_key) == 32
    assert key.key_id == hashlib.sha256(key.public_key).hexdigest()[:16]
    assert len(key.sealed_private_key) == 48
    assert len(key.salt) == 16
    assert len(key.nonce) == 12
    assert key.kdf == f"scrypt:n={FAST_N},r=8,p=1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.kdf = "scrypt:n=1024,r=8,p=1"  # type: ignore[misc]


def test_default_scrypt_cost_is_recorded_and_used() -> None:
    key = new_key(PIN, owner=OWNER)
    assert key.kdf == f"scrypt:n={signing.SCRYPT_N},r=8,p=1"
    assert verify(key.public_key, PRESCRIPTION, sign(key, PIN, owner=OWNER, document=PRESCRIPTION))


def test_sign_and_verify_round_trip() -> None:
    key = fast_key()
    signature = sign(key, PIN, owner=OWNER, document=PRESCRIPTION)
    assert len(signature) == 64
    assert verify(key.public_key, PRESCRIPTION, signature)
    reordered = dict(reversed(list(PRESCRIPTION.items())))
    assert verify(key.public_key, reordered, signature)
    assert verify(key.public_key, json.loads(json.dumps(PRESCRIPTION)), signature)


def test_each_key_is_new() -> None:
    first, second = new_key(PIN, owner=OWNER, scrypt_n=FAST_N), new_key(PIN, owner=OWNER, scrypt_n=FAST_N)
    assert first.public_key != second.public_key
    assert first.salt != second.salt
    signature = sign(first, PIN, owner=OWNER, document=PRESCRIPTION)
    assert not verify(second.public_key, PRESCRIPTION, signature)


def test_wrong_pin_is_refused() -> None:
    with pytest.raises(WrongPin):
        sign(fast_key(), "271829", owner=OWNER, document=PRESCRIPTION)


def test_full_width_digits_open_the_same_key() -> None:
    signature = sign(fast_key(), "２７１８２８", owner=OWNER, document=PRESCRIPTION)
    assert verify(fast_key().public_key, PRESCRIPTION, signature)


def test_key_copied_to_another_owner_does_not_open() -> None:
    with pytest.raises(WrongPin):
        sign(fast_key(), PIN, owner="doctor:43", document=PRESCRIPTION)


def test_tampered_sealed_key_does_not_open() -> None:
    key = fast_key()
    flipped = bytes([key.sealed_private_key[0] ^ 1]) + key.sealed_private_key[1:]
    with pytest.raises(WrongPin):
        sign(dataclasses.replace(key, sealed_private_key=flipped), PIN, owner=OWNER, document=PRESCRIPTION)
    with pytest.raises(WrongPin):
        sign(dataclasses.replace(key, kdf="scrypt:n=2048,r=8,p=1"), PIN, owner=OWNER, document=PRESCRIPTION)
    with pytest.raises(WrongPin):
        sign(dataclasses.replace(key, salt=bytes(16)), PIN, owner=OWNER, document=PRESCRIPTION)


def test_damaged_records_are_refused_on_load() -> None:
    key = fast_key()
    with pytest.raises(ValueError):
        dataclasses.replace(key, key_id="0" * 16)
    with pytest.raises(ValueError):
        dataclasses.replace(key, kdf="pbkdf2:i=1")
    with pytest.raises(ValueError):
        dataclasses.replace(key, kdf="scrypt:n=1000,r=8,p=1")  # not a power of two
    with pytest.raises(ValueError):
        dataclasses.replace(key, kdf="scrypt:n=16,r=8,p=1")  # too weak to have been sealed here
    with pytest.raises(ValueError):
        dataclasses.replace(key, nonce=key.nonce[:8])
    with pytest.raises(ValueError):
        dataclasses.replace(
            key, public_key=key.public_key[:31], key_id=hashlib.sha256(key.public_key[:31]).hexdigest()[:16]
        )


def test_sealed_key_does_not_hold_the_raw_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = bytes(range(1, 33))
    known = Ed25519PrivateKey.from_private_bytes(raw)
    monkeypatch.setattr(signing.Ed25519PrivateKey, "generate", staticmethod(lambda: known))
    key = new_key(PIN, owner=OWNER, scrypt_n=FAST_N)
    assert key.public_key == known.public_key().public_bytes_raw()
    for field in dataclasses.fields(key):
        stored = getattr(key, field.name)
        held = stored if isinstance(stored, bytes) else stored.encode()
        assert raw not in held
        assert raw.hex() not in held.hex()
    assert raw.hex() not in repr(key)
    assert verify(key.public_key, PRESCRIPTION, sign(key, PIN, owner=OWNER, document=PRESCRIPTION))


def test_opened_key_is_not_kept_in_module_state() -> None:
    sign(fast_key(), PIN, owner=OWNER, document=PRESCRIPTION)

    def holds_private_key(value: object) -> bool:
        if isinstance(value, Ed25519PrivateKey):
            return True
        if isinstance(value, dict):
            return any(holds_private_key(item) for item in value.values())
        if isinstance(value, list | tuple | set):
            return any(holds_private_key(item) for item in value)
        return False

    assert not any(holds_private_key(value) for value in vars(signing).values())


def test_sign_refuses_documents_without_canonical_form() -> None:
    with pytest.raises(TypeError):
        sign(fast_key(), PIN, owner=OWNER, document={"when": object()})
    with pytest.raises(ValueError):
        sign(fast_key(), PIN, owner=OWNER, document={"dose": math.nan})


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [
        (b"", b"\x00" * 64),
        (b"\x00" * 31, b"\x00" * 64),
        (b"\x00" * 33, b"\x00" * 64),
        (None, b"\x00" * 64),
        ("not bytes", b"\x00" * 64),
        (b"\x00" * 32, b"\x00" * 64),
        (b"\xff" * 32, b"\xff" * 64),
    ],
)
def test_verify_returns_false_for_malformed_keys(public_key: Any, signature: bytes) -> None:
    assert verify(public_key, PRESCRIPTION, signature) is False


@pytest.mark.parametrize("cut", [0, 1, 63, 65])
def test_verify_returns_false_for_malformed_signatures(cut: int) -> None:
    key = fast_key()
    signature = sign(key, PIN, owner=OWNER, document=PRESCRIPTION)
    malformed = (signature + b"\x00")[:cut]
    assert verify(key.public_key, PRESCRIPTION, malformed) is False
    assert verify(key.public_key, PRESCRIPTION, None) is False  # type: ignore[arg-type]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    return [_replaced(item, rest, new) if index == head else item for index, item in enumerate(value)]


@settings(max_examples=60, deadline=None)
@given(document=st.dictionaries(st.text(max_size=6), json_values(), min_size=1, max_size=6), data=st.data())
def test_any_change_after_signing_breaks_the_signature(document: dict[str, Any], data: st.DataObject) -> None:
    key = fast_key()
    signature = sign(key, PIN, owner=OWNER, document=document)
    assert verify(key.public_key, document, signature)
    path = data.draw(st.sampled_from(_paths(document)[1:]), label="path")
    changed = _replaced(document, path, data.draw(json_values(), label="new value"))
    # 1 and 1.0 are the same JSON number; only a change that reaches the canonical bytes is a change.
    assume(canonical_json(changed) != canonical_json(document))
    assert not verify(key.public_key, changed, signature)


@settings(max_examples=30, deadline=None)
@given(extra=st.text(min_size=1, max_size=6))
def test_added_member_breaks_the_signature(extra: str) -> None:
    key = fast_key()
    signature = sign(key, PIN, owner=OWNER, document=PRESCRIPTION)
    assume(extra not in PRESCRIPTION)
    assert not verify(key.public_key, {**PRESCRIPTION, extra: None}, signature)
