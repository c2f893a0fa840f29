"""Encryption of personal fields at rest (AES-256-GCM) and keyed look-up hashes (HMAC-SHA256).

Both keys are derived with HKDF-SHA256 from the one secret in settings.data_key, under
different labels, so the look-up hash never reveals anything about the encryption key
and vice versa. A stored ciphertext is `format byte || 12-byte random nonce || AES-GCM
output`; the field's purpose (e.g. "patients.id_number") is bound in as associated data,
so a ciphertext copied into another column or table no longer decrypts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Bumped when the scheme or the derivation changes, so old values can still be told apart.
FORMAT_V1 = 1
NONCE_BYTES = 12  # the size AES-GCM is specified for (NIST SP 800-38D)
_ENCRYPTION_LABEL = b"regio/field-encryption/aes-256-gcm/v1"
_LOOKUP_LABEL = b"regio/lookup-hash/hmac-sha256/v1"


class DecryptionError(Exception):
    """A stored value did not decrypt: wrong key, wrong column, or tampered bytes. A bug, never user input."""


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret)


class FieldCipher:
    """Encrypts, decrypts and look-up-hashes short personal strings under keys from one secret."""

    __slots__ = ("_aead", "_lookup_key")

    def __init__(self, data_key: str) -> None:
        if not data_key:
            raise ValueError("data_key must not be empty")
        secret = data_key.encode("utf-8")
        self._aead = AESGCM(_derive(secret, _ENCRYPTION_LABEL))
        self._lookup_key = _derive(secret, _LOOKUP_LABEL)

    def __repr__(self) -> str:
        return "FieldCipher(<keys hidden>)"

    def encrypt(self, plaintext: str, *, purpose: str) -> bytes:
        """A fresh random nonce each time: the same value encrypts differently in every row."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("utf-8"))
        return bytes([FORMAT_V1]) + nonce + sealed

    def decrypt(self, token: bytes, *, purpose: str) -> str:
        if len(token) < 1 + NONCE_BYTES + 16 or token[0] != FORMAT_V1:
            raise DecryptionError(f"not a v{FORMAT_V1} field ciphertext for {purpose}")
        nonce, sealed = token[1 : 1 + NONCE_BYTES], token[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, purpose.encode("utf-8")).decode("utf-8")
        except InvalidTag:
            raise DecryptionError(f"a {purpose} value failed authentication") from None

    def lookup_hash(self, value: str, *, purpose: str) -> str:
        """Deterministic, so equal values find each other; keyed, so a dump cannot be brute-forced offline.

        An 18-digit identity number has few enough possibilities that a plain hash would
        be reversed by enumeration; without the key that is impossible.
        """
        message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def field_cipher(data_key: str) -> FieldCipher:
    """One cipher per key for the process; HKDF runs once, not per request."""
    return FieldCipher(data_key)
