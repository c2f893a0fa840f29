"""Prescription signatures: RFC 8785 canonical JSON, and doctors' Ed25519 keys sealed under a signing PIN.

A doctor's private key exists in clear only inside `sign()`, opened with the PIN the doctor types for that
signature; the platform stores only the sealed form, so it cannot sign in a doctor's name. Signatures are
over the RFC 8785 (JSON Canonicalization Scheme) bytes of the document, so any reader holding the public
key can re-check the prescription, and any change after signing breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

# ---------------------------------------------------------------------------------------------------------
# RFC 8785 canonical JSON
# ---------------------------------------------------------------------------------------------------------

_ESCAPES: Final[dict[int, str]] = {code: f"\\u{code:04x}" for code in range(0x20)}
_ESCAPES.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"})

# RFC 8785 §3.2.2.3 defers to ECMAScript, whose numbers are IEEE-754 doubles: these are the integers that
# every double-based reader gets back unchanged.
_SAFE_INT: Final = 2**53


def canonical_json(value: object) -> bytes:
    """The RFC 8785 (JCS) serialisation of `value`, as UTF-8 bytes.

    Accepts dict (str keys), list, tuple, str, int, float, bool and None. Raises TypeError for any other
    type, and ValueError for what JSON numbers or I-JSON strings cannot carry (NaN, infinities, integers
    that would be rounded to reach a double, lone surrogates) or for a structure that contains itself.
    """
    parts: list[str] = []
    _write(value, parts, set())
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        # I-JSON (RFC 7493), which RFC 8785 builds on, forbids unpaired surrogates.
        raise ValueError(f"string holds a lone surrogate at {exc.start}; not valid I-JSON") from None


def _write(value: object, parts: list[str], open_containers: set[int]) -> None:
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, int):
        parts.append(_number(_exact_double(value)))
    elif isinstance(value, float):
        parts.append(_number(float(value)))
    elif isinstance(value, dict):
        _guard(value, open_containers)
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"object keys must be str, not {type(key).__name__}")
        parts.append("{")
        # UTF-16 code units, as RFC 8785 §3.2.3 requires: big-endian bytes compare in code-unit order,
        # which differs from code-point order for characters beyond the BMP.
        for index, key in enumerate(sorted(value, key=_utf16_units)):
            if index:
                parts.append(",")
            parts.append(_string(key))
            parts.append(":")
            _write(value[key], parts, open_containers)
        parts.append("}")
        open_containers.discard(id(value))
    elif isinstance(value, list | tuple):
        _guard(value, open_containers)
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts, open_containers)
        parts.append("]")
        open_containers.discard(id(value))
    else:
        raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def _guard(container: object, open_containers: set[int]) -> None:
    marker = id(container)
    if marker in open_containers:
        raise ValueError("structure contains itself; it has no JSON form")
    open_containers.add(marker)


def _utf16_units(key: str) -> bytes:
    # surrogatepass keeps sorting total; a lone surrogate is refused later, when encoding to UTF-8.
    return key.encode("utf-16-be", "surrogatepass")


def _string(text: str) -> str:
    return '"' + str.translate(text, _ESCAPES) + '"'


def _exact_double(number: int) -> float:
    if -_SAFE_INT <= number <= _SAFE_INT:
        return float(number)
    try:
        converted = float(number)
    except OverflowError:
        raise ValueError(f"integer {number} is beyond the range of an IEEE-754 double") from None
    if int(converted) == number:
        return converted
    # A large float prints as its shortest digits (2**68 as 295147905179352830000), and json.loads reads
    # those back as an int that is not itself a double. Such an int is accepted when the canonical text
    # states its value exactly, so nothing is rounded and canonical JSON survives a round trip.
    if Decimal(_number(converted)) == number:
        return converted
    raise ValueError(
        f"integer {number} is not exactly an IEEE-754 double (nearest is {int(converted)}); send it as a string"
    )


def _number(number: float) -> str:
    """ECMAScript Number.prototype.toString for a finite double (ECMA-262 Number::toString)."""
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"{number} has no JSON form")
    if number == 0:
        return "0"  # also for -0.0, as ECMAScript prints it
    sign = "-" if number < 0 else ""
    # Python's repr gives the shortest digit string that reads back as the same double, picking the
    # closest (then even) one on ties: the same digits ECMAScript asks for. Only the layout differs.
    mantissa, _, exponent = float.__repr__(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # `point` is ECMAScript's n: the value is 0.<digits> × 10**point.
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    count = len(significant)
    if count <= point <= 21:
        return sign + significant + "0" * (point - count)
    if 0 < point <= 21:
        return sign + significant[:point] + "." + significant[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + significant
    power = point - 1
    head = significant[0] + ("." + significant[1:] if count > 1 else "")
    return f"{sign}{head}e{'+' if power >= 0 else '-'}{abs(power)}"


def document_digest(document: object) -> str:
    """Hex SHA-256 of the document's canonical JSON: the fingerprint shown to doctors and pharmacists."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Signing PIN
# ---------------------------------------------------------------------------------------------------------

PIN_MIN_LENGTH: Final = 6
PIN_MAX_LENGTH: Final = 64

PinRejection = Literal["too_short", "too_long", "too_simple"]


class PinRejected(ValueError):
    """A signing PIN that may not be used for a new key; `reason` is a stable code for the UI to translate."""

    def __init__(self, reason: PinRejection) -> None:
        super().__init__(reason)
        self.reason: PinRejection = reason


def _normalise_pin(pin: str) -> str:
    # Chinese input methods often type full-width digits (１２３４５６); NFKC makes them the same PIN as
    # the half-width ones, so the doctor's key opens whichever mode the keyboard happens to be in.
    return unicodedata.normalize("NFKC", pin)


def validate_pin(pin: str) -> None:
    """Raise PinRejected unless `pin` may seal a new signing key. Only new PINs are checked, never at sign."""
    pin = _normalise_pin(pin)
    if len(pin) < PIN_MIN_LENGTH:
        raise PinRejected("too_short")
    if len(pin) > PIN_MAX_LENGTH:
        raise PinRejected("too_long")
    if len(set(pin)) == 1:
        raise PinRejected("too_simple")
    if all(char in "0123456789" for char in pin):
        steps = {ord(after) - ord(before) for before, after in itertools.pairwise(pin)}
        if steps in ({1}, {-1}):
            raise PinRejected("too_simple")


# ---------------------------------------------------------------------------------------------------------
# Sealed keys
# ---------------------------------------------------------------------------------------------------------

SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
# Bounds on what a stored `kdf` may ask for: the floor keeps keys from being sealed weakly by mistake,
# the ceiling keeps a damaged record from making one signature allocate gigabytes.
SCRYPT_N_MIN: Final = 2**10
SCRYPT_N_MAX: Final = 2**20

_KDF_PATTERN: Final = re.compile(r"scrypt:n=(\d{1,8}),r=(\d{1,2}),p=(\d{1,2})")
_AAD_PURPOSE: Final = "regio.care.prescription.signing-key.v1"
_SALT_BYTES: Final = 16
_NONCE_BYTES: Final = 12
_RAW_KEY_BYTES: Final = 32
_GCM_TAG_BYTES: Final = 16
SIGNATURE_BYTES: Final = 64


class WrongPin(Exception):
    """The PIN (or the owner) does not open this sealed key."""


def key_id_for(public_key: bytes) -> str:
    """The short name of a public key: the first 16 hex characters of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SealedKey:
    """A doctor's Ed25519 key pair with the private half encrypted (AES-256-GCM) under the signing PIN."""

    key_id: str
    public_key: bytes
    sealed_private_key: bytes
    salt: bytes
    nonce: bytes
    kdf: str

    def __post_init__(self) -> None:
        # Checked on construction so a damaged stored record fails when loaded, not halfway through signing.
        if len(self.public_key) != _RAW_KEY_BYTES:
            raise ValueError("public_key must be 32 raw Ed25519 bytes")
        if self.key_id != key_id_for(self.public_key):
            raise ValueError("key_id does not belong to public_key")
        if len(self.sealed_private_key) != _RAW_KEY_BYTES + _GCM_TAG_BYTES:
            raise ValueError("sealed_private_key must be 48 bytes (32-byte key and 16-byte GCM tag)")
        if len(self.salt) != _SALT_BYTES:
            raise ValueError("salt must be 16 bytes")
        if len(self.nonce) != _NONCE_BYTES:
            raise ValueError("nonce must be 12 bytes")
        _parse_kdf(self.kdf)


def _kdf_name(n: int) -> str:
    return f"scrypt:n={n},r={SCRYPT_R},p={SCRYPT_P}"


def _parse_kdf(kdf: str) -> tuple[int, int, int]:
    match = _KDF_PATTERN.fullmatch(kdf)
    if match is None:
        raise ValueError(f"unknown key derivation {kdf!r}")
    n, r, p = (int(group) for group in match.groups())
    _check_n(n)
    if not (1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError(f"scrypt parameters out of range in {kdf!r}")
    return n, r, p


def _check_n(n: int) -> None:
    if not (SCRYPT_N_MIN <= n <= SCRYPT_N_MAX) or n & (n - 1):
        raise ValueError(f"scrypt n must be a power of two between 2**10 and 2**20, not {n}")


def _wrapping_key(pin: str, salt: bytes, kdf: str, pepper: bytes) -> bytes:
    n, r, p = _parse_kdf(kdf)
    stretched = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(_normalise_pin(pin).encode("utf-8"))
    if not pepper:
        return stretched
    # A server-held secret mixed in after scrypt: a copy of the database alone is not enough to try
    # every 6-digit PIN offline; the PIN is still needed, so the server alone cannot sign either.
    return hmac.new(pepper, stretched, hashlib.sha256).digest()


def _associated_data(key_id: str, owner: str) -> bytes:
    # Canonical JSON keeps the fields unambiguous whatever characters an owner name holds.
    return canonical_json({"purpose": _AAD_PURPOSE, "key_id": key_id, "owner": owner})


def _check_owner(owner: str) -> None:
    if not owner:
        raise ValueError("owner must name who the key belongs to, e.g. 'doctor:42'")


def new_key(pin: str, *, owner: str, scrypt_n: int | None = None, pepper: bytes = b"") -> SealedKey:
    """A fresh Ed25519 key pair for `owner` (e.g. "doctor:42"), its private half sealed under `pin`."""
    validate_pin(pin)
    _check_owner(owner)
    n = SCRYPT_N if scrypt_n is None else scrypt_n
    _check_n(n)
    kdf = _kdf_name(n)
    private = Ed25519PrivateKey.generate()
    public_key = private.public_key().public_bytes_raw()
    key_id = key_id_for(public_key)
    salt = os.urandom(_SALT_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_wrapping_key(pin, salt, kdf, pepper)).encrypt(
        nonce, private.private_bytes_raw(), _associated_data(key_id, owner)
    )
    return SealedKey(
        key_id=key_id,
        public_key=public_key,
        sealed_private_key=sealed,
        salt=salt,
        nonce=nonce,
        kdf=kdf,
    )


def sign(sealed: SealedKey, pin: str, *, owner: str, document: object, pepper: bytes = b"") -> bytes:
    """The 64-byte Ed25519 signature of canonical_json(document), made with the key `pin` opens.

    Raises WrongPin if the PIN is wrong or the key was sealed for another owner. The opened private key
    lives only in this call's locals (Python cannot promise to wipe the memory it occupied).
    """
    _check_owner(owner)
    message = canonical_json(document)  # refuse an unsignable document before spending the KDF time
    aead = AESGCM(_wrapping_key(pin, sealed.salt, sealed.kdf, pepper))
    try:
        raw = aead.decrypt(sealed.nonce, sealed.sealed_private_key, _associated_data(sealed.key_id, owner))
    except InvalidTag:
        raise WrongPin("the signing PIN does not open this key") from None
    private = Ed25519PrivateKey.from_private_bytes(raw)
    del raw
    if private.public_key().public_bytes_raw() != sealed.public_key:
        # Only reachable if a record was pieced together from two keys; never sign with a mismatched pair.
        raise ValueError("sealed key does not match its public key")
    return private.sign(message)


def verify(public_key: bytes, document: object, signature: bytes) -> bool:
    """Whether `signature` is `public_key`'s Ed25519 signature over canonical_json(document).

    Malformed key or signature bytes give False rather than an exception, since both come from storage
    on every read. A document without a canonical form raises as in canonical_json: that is a caller's bug.
    """
    message = canonical_json(document)
    try:
        if len(signature) != SIGNATURE_BYTES:
            return False
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
