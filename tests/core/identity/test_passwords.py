"""Password hashing: argon2id with OWASP parameters, off the event loop, with bounded concurrency."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from argon2 import extract_parameters
from argon2.low_level import Type

from regio.core.identity import passwords


def test_hashes_are_argon2id_with_19_mib_two_passes_and_one_lane():
    encoded = passwords.hash_sync("a perfectly fine password")
    params = extract_parameters(encoded)
    assert params.type is Type.ID
    assert params.memory_cost == 19456
    assert params.time_cost == 2
    assert params.parallelism == 1
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_two_hashes_of_one_password_differ_by_salt_and_both_verify():
    first = passwords.hash_sync("same password")
    second = passwords.hash_sync("same password")
    assert first != second
    assert passwords.verify_sync(first, "same password")
    assert passwords.verify_sync(second, "same password")
    assert not passwords.verify_sync(first, "other password")


def test_a_malformed_stored_hash_does_not_match_instead_of_crashing():
    assert passwords.verify_sync("not-a-hash", "anything") is False


async def test_hashing_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch):
    loop_thread = threading.get_ident()
    seen: list[int] = []
    real = passwords.hash_sync

    def recording(password: str) -> str:
        seen.append(threading.get_ident())
        return real(password)

    monkeypatch.setattr(passwords, "hash_sync", recording)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    encoded = await passwords.hash_password("a perfectly fine password", concurrency=2)
    task.cancel()
    assert passwords.verify_sync(encoded, "a perfectly fine password")
    assert seen and seen[0] != loop_thread
    assert ticks > 0  # the loop kept serving while the hash ran


async def test_no_more_hashes_run_at_once_than_the_configured_concurrency(monkeypatch: pytest.MonkeyPatch):
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow_verify(password_hash: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(passwords, "verify_sync", slow_verify)
    await asyncio.gather(*(passwords.verify_password("h", "p", concurrency=3) for _ in range(12)))
    assert peak == 3
