"""Field encryption (AES-256-GCM, HKDF-derived key) and keyed look-up hashes."""

from __future__ import annotations

import pytest

from regio.core.crypto import FORMAT_V1, NONCE_BYTES, DecryptionError, FieldCipher, field_cipher

KEY = "unit-test-data-key-" + "k" * 32
NUMBER = "11010519491231002X"


def test_a_value_round_trips_and_the_clear_text_is_not_in_the_ciphertext() -> None:
    cipher = FieldCipher(KEY)
    token = cipher.encrypt(NUMBER, purpose="patients.id_number")
    assert cipher.decrypt(token, purpose="patients.id_number") == NUMBER
    assert NUMBER.encode() not in token
    assert token[0] == FORMAT_V1
    assert len(token) == 1 + NONCE_BYTES + len(NUMBER) + 16  # format, nonce, ciphertext, GCM tag


def test_the_same_value_encrypts_differently_every_time() -> None:
    cipher = FieldCipher(KEY)
    tokens = {cipher.encrypt(NUMBER, purpose="p") for _ in range(50)}
    assert len(tokens) == 50
    assert len({token[1 : 1 + NONCE_BYTES] for token in tokens}) == 50


def test_a_ciphertext_moved_to_another_field_does_not_decrypt() -> None:
    cipher = FieldCipher(KEY)
    token = cipher.encrypt("13812345678", purpose="patients.phone")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, purpose="patients.id_number")


def test_another_key_cannot_decrypt() -> None:
    token = FieldCipher(KEY).encrypt(NUMBER, purpose="p")
    with pytest.raises(DecryptionError):
        FieldCipher(KEY + "-other").decrypt(token, purpose="p")


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_a_tampered_byte_is_detected(position: int) -> None:
    cipher = FieldCipher(KEY)
    token = bytearray(cipher.encrypt(NUMBER, purpose="p"))
    token[position] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(token), purpose="p")


def test_a_truncated_ciphertext_is_refused() -> None:
    with pytest.raises(DecryptionError):
        FieldCipher(KEY).decrypt(b"\x01short", purpose="p")


def test_lookup_hashes_are_deterministic_keyed_and_separated_by_purpose() -> None:
    cipher = FieldCipher(KEY)
    first = cipher.lookup_hash(NUMBER, purpose="patients.id_number")
    assert first == FieldCipher(KEY).lookup_hash(NUMBER, purpose="patients.id_number")
    assert len(first) == 64 and int(first, 16) >= 0
    assert first != FieldCipher(KEY + "-other").lookup_hash(NUMBER, purpose="patients.id_number")
    assert first != cipher.lookup_hash(NUMBER, purpose="patients.phone")
    assert first != cipher.lookup_hash("11010519491231003X", purpose="patients.id_number")


def test_the_lookup_hash_is_not_a_plain_hash_of_the_value() -> None:
    import hashlib

    digest = FieldCipher(KEY).lookup_hash(NUMBER, purpose="patients.id_number")
    assert digest != hashlib.sha256(NUMBER.encode()).hexdigest()


def test_the_cipher_never_shows_its_keys() -> None:
    assert "k" * 8 not in repr(FieldCipher(KEY))
    assert repr(FieldCipher(KEY)) == "FieldCipher(<keys hidden>)"


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        FieldCipher("")


def test_one_cipher_is_kept_per_key() -> None:
    assert field_cipher(KEY) is field_cipher(KEY)
    assert field_cipher(KEY) is not field_cipher(KEY + "-other")
