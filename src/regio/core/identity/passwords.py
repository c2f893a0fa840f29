"""argon2id password hashing, run off the event loop behind a per-loop concurrency gate."""

from __future__ import annotations

import asyncio
import weakref
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from regio.config import get_settings

# OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB (19456 KiB), t=2, p=1.
MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1

HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# Each hash holds ~19 MiB while it runs; the gate caps how many run at once per event loop.
# Semaphores bind to one loop, so each loop (tests run many) gets its own.
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _gate(concurrency: int | None) -> asyncio.Semaphore:
    limit = max(1, concurrency if concurrency is not None else get_settings().password_hash_concurrency)
    loop = asyncio.get_running_loop()
    held = _gates.get(loop)
    if held is None or held[0] != limit:
        held = (limit, asyncio.Semaphore(limit))
        _gates[loop] = held
    return held[1]


def hash_sync(password: str) -> str:
    """Blocking hash; for the CLI and test set-up, never on the event loop of a server."""
    return HASHER.hash(password)


def verify_sync(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password(password: str, *, concurrency: int | None = None) -> str:
    """argon2id hash in a worker thread, at most `concurrency` at a time."""
    async with _gate(concurrency):
        return await asyncio.to_thread(hash_sync, password)


async def verify_password(password_hash: str, password: str, *, concurrency: int | None = None) -> bool:
    """True when the password matches; a malformed stored hash simply does not match."""
    async with _gate(concurrency):
        return await asyncio.to_thread(verify_sync, password_hash, password)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A real hash to verify against when the username is unknown, so timing reveals nothing."""
    return HASHER.hash("regio-no-such-user-dummy-password")


def needs_rehash(password_hash: str) -> bool:
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
