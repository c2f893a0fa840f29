"""Hash-chained audit trail of every read and write of personal data: append, seal, verify, read.

Requests only INSERT entries (`record`), inside their own transaction, so no request waits on a
chain lock. A background sealer (`seal`) then takes the committed, unsealed entries in id order
(one whose transaction commits late joins a later batch) and gives each a chain position (`seq`
1, 2, 3 … without gaps), the previous entry's hash and its own SHA-256 hash over a canonical
serialisation of its fields. After each batch the sealed head
(seq, hash, time) is written to `audit_checkpoints`, a table of its own, signed with HMAC-SHA256
under a key derived from `settings.secret_key`: rewriting the chain, or cutting entries off its
end, then no longer matches a signature that nobody without the key can forge. The sealer also
logs each signed head, so an outside log witnesses it (a database-only attacker could otherwise
roll the trail and its checkpoints back together).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Index, String, Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from regio.config import Settings
from regio.core.access import Principal, Role, ScopeKind, require
from regio.core.context import current_request
from regio.core.db import Base, BigId, Database, UTCDateTime, transaction, utcnow
from regio.core.jsonable import lenient_json_default
from regio.core.masking import mask_text

log = logging.getLogger("regio.audit")

GENESIS_HASH = "0" * 64
CANONICAL_VERSION = 1
# Any constant works; it only has to be the same in every process that seals.
_SEALER_LOCK_KEY = 0x5245_4749_4F41  # "REGIOA"
_VERIFY_PAGE = 2000

# Who may read the trail: platform-wide oversight and the people who run the platform. A role
# held in a region does not qualify: entries do not carry a region yet, so a regional reader
# would see every region's trail.
AUDIT_READERS = frozenset({Role.regulator, Role.platform_admin})


class AuditEntry(Base):
    """One audited act. Written once by `record`; only the sealer fills seq and the hashes."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor_client_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor_username: Mapped[str] = mapped_column(String(150), nullable=False, default="")
    roles: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    object_type: Mapped[str] = mapped_column(String(60), nullable=False)
    object_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    user_agent: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    request_id: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    # NULL until sealed; unique so that two sealers can never hand out one position twice.
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_audit_entries_object", "object_type", "object_id", "id"),
        Index("ix_audit_entries_actor", "actor_user_id", "id"),
        Index("ix_audit_entries_action", "action", "id"),
    )


class AuditCheckpoint(Base):
    """A signed sealed head; one row per sealing batch, kept outside the entries it vouches for."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    signature: Mapped[str] = mapped_column(String(64), nullable=False)


# Built once: the statement's compiled form is cached, so an append costs only its execution.
_INSERT_ENTRY = insert(cast(Table, AuditEntry.__table__))


class SealRefused(RuntimeError):
    """The signed head does not check out; extending the chain would sign over tampered data."""


# --- append -----------------------------------------------------------------------------------


def _scrub(value: Any) -> Any:
    """Masks ID numbers and phones a caller let slip into details; callers should pass masked values."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {str(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _normalise_details(details: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip through JSON now, so the sealer hashes exactly what the database hands back.
    plain = json.loads(
        json.dumps(details or {}, default=lenient_json_default, ensure_ascii=False, allow_nan=False)
    )
    scrubbed: dict[str, Any] = _scrub(plain)
    return scrubbed


def _role_labels(principal: Principal) -> list[str]:
    labels = set()
    for grant in principal.grants:
        if grant.scope_kind == ScopeKind.platform and not grant.scope_id:
            labels.add(str(grant.role))
        else:
            labels.add(f"{grant.role}@{grant.scope_kind}:{grant.scope_id}")
    return sorted(labels)


def entry_values(
    principal: Principal,
    action: str,
    *,
    object_type: str,
    object_id: str | int | None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one audit entry, as `record` writes them (details masked and JSON-normalised).

    For a hot path that inserts its entry inside the same statement as the change it audits
    (one round trip instead of an ORM flush); everything else calls `record`.
    """
    context = current_request.get()
    return {
        "occurred_at": utcnow(),
        "actor_user_id": principal.user_id,
        "actor_client_id": principal.client_id,
        "actor_username": principal.username[:150],
        "roles": _role_labels(principal),
        "action": action[:100],
        "object_type": object_type[:60],
        "object_id": None if object_id is None else str(object_id)[:100],
        "details": _normalise_details(details),
        "ip": context.ip[:64],
        "user_agent": context.user_agent[:300],
        "request_id": context.request_id[:100],
    }


async def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    *,
    object_type: str,
    object_id: str | int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Appends one audit entry inside the caller's transaction (sealed into the chain later)."""
    session.add(
        AuditEntry(
            **entry_values(principal, action, object_type=object_type, object_id=object_id, details=details)
        )
    )


async def record_now(
    session: AsyncSession,
    principal: Principal,
    action: str,
    *,
    object_type: str,
    object_id: str | int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Like `record`, but inserts at once with a plain INSERT instead of waiting for the ORM flush.

    For hot write paths that otherwise use no ORM objects: the unit-of-work flush of one entry
    costs several times the INSERT itself.
    """
    await session.execute(
        _INSERT_ENTRY,
        entry_values(principal, action, object_type=object_type, object_id=object_id, details=details),
    )


# --- hashing and signing ----------------------------------------------------------------------


def canonical_bytes(entry: AuditEntry, *, seq: int, prev_hash: str) -> bytes:
    """The exact bytes an entry's hash covers: every field, its position and its predecessor's hash."""
    document = {
        "v": CANONICAL_VERSION,
        "seq": seq,
        "prev": prev_hash,
        "id": entry.id,
        "at": entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "user": entry.actor_user_id,
        "client": entry.actor_client_id,
        "username": entry.actor_username,
        "roles": list(entry.roles or []),
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": entry.details,
        "ip": entry.ip,
        "ua": entry.user_agent,
        "request_id": entry.request_id,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: AuditEntry, *, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical_bytes(entry, seq=seq, prev_hash=prev_hash)).hexdigest()


def _checkpoint_key(settings: Settings) -> bytes:
    # A key of its own, so a signature made for cookies or tokens can never pass as a checkpoint's.
    return hmac.new(
        settings.secret_key.encode("utf-8"), b"regio/audit-checkpoint/v1", hashlib.sha256
    ).digest()


def sign_checkpoint(settings: Settings, *, seq: int, head_hash: str, sealed_at: datetime) -> str:
    message = f"{seq}|{head_hash}|{sealed_at.astimezone(UTC).isoformat(timespec='microseconds')}"
    return hmac.new(_checkpoint_key(settings), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _checkpoint_is_genuine(settings: Settings, checkpoint: AuditCheckpoint) -> bool:
    expected = sign_checkpoint(
        settings, seq=checkpoint.seq, head_hash=checkpoint.entry_hash, sealed_at=checkpoint.sealed_at
    )
    return hmac.compare_digest(expected, checkpoint.signature)


# --- sealing ----------------------------------------------------------------------------------


async def _take_sealer_lock(session: AsyncSession) -> None:
    """Makes this transaction the only sealer until it ends; other sealers wait their turn."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEALER_LOCK_KEY})
    else:
        # SQLite has one writer; taking the write lock before reading the head makes the
        # read and the writes one atomic step (a deferred BEGIN would read a head that may move).
        await session.execute(text("BEGIN IMMEDIATE"))


async def seal(*, db: Database, settings: Settings, batch_size: int = 1000) -> int:
    """Seals the next batch of unsealed entries into the chain and checkpoints the head; returns how many."""
    async with db.sessionmaker() as session, session.begin():
        await _take_sealer_lock(session)
        head = (
            await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1))
        ).scalar_one_or_none()
        if head is not None and not _checkpoint_is_genuine(settings, head):
            raise SealRefused(f"the audit checkpoint at seq {head.seq} has a bad signature")
        seq = head.seq if head else 0
        prev_hash = head.entry_hash if head else GENESIS_HASH
        pending = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.seq.is_(None))
                    .order_by(AuditEntry.id)
                    .limit(batch_size)
                )
            )
            .scalars()
            .all()
        )
        if not pending:
            return 0
        changes = []
        for entry in pending:
            seq += 1
            digest = entry_hash(entry, seq=seq, prev_hash=prev_hash)
            changes.append({"id": entry.id, "seq": seq, "prev_hash": prev_hash, "entry_hash": digest})
            prev_hash = digest
        await session.execute(update(AuditEntry), changes)
        sealed_at = utcnow()
        session.add(
            AuditCheckpoint(
                seq=seq,
                entry_hash=prev_hash,
                sealed_at=sealed_at,
                signature=sign_checkpoint(settings, seq=seq, head_hash=prev_hash, sealed_at=sealed_at),
            )
        )
    log.info("audit head sealed: seq=%d hash=%s at=%s", seq, prev_hash, sealed_at.isoformat())
    return len(pending)


async def seal_all(*, db: Database, settings: Settings, batch_size: int = 1000) -> int:
    """Seals until nothing committed is left unsealed; returns how many entries this call sealed."""
    total = 0
    while True:
        sealed = await seal(db=db, settings=settings, batch_size=batch_size)
        total += sealed
        if sealed < batch_size:
            return total


# --- verifying --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyProblem:
    """The first place the trail does not check out."""

    reason: str
    message: str
    seq: int | None
    entry_id: int | None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    sealed: int
    unsealed: int
    head_seq: int
    problem: VerifyProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def verify(*, session: AsyncSession, settings: Settings) -> VerifyResult:
    """Walks the sealed chain against its signed checkpoints and names the first entry that fails.

    Read-only, in pages; it empties the session's identity map as it goes, so give it a session of its own.
    """
    unsealed = int((await session.execute(select(func.count()).where(AuditEntry.seq.is_(None)))).scalar_one())
    head = (
        await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1))
    ).scalar_one_or_none()
    head_seq = head.seq if head else 0

    def result(count: int, problem: VerifyProblem | None) -> VerifyResult:
        return VerifyResult(sealed=count, unsealed=unsealed, head_seq=head_seq, problem=problem)

    expected_seq = 1
    prev_hash = GENESIS_HASH
    last: AuditEntry | None = None
    while True:
        page = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.seq >= expected_seq)
                    .order_by(AuditEntry.seq)
                    .limit(_VERIFY_PAGE)
                )
            )
            .scalars()
            .all()
        )
        if not page:
            break
        checkpoints = {
            checkpoint.seq: checkpoint
            for checkpoint in (
                await session.execute(
                    select(AuditCheckpoint).where(
                        AuditCheckpoint.seq >= expected_seq, AuditCheckpoint.seq <= page[-1].seq
                    )
                )
            ).scalars()
        }
        for entry in page:
            seq = entry.seq
            assert seq is not None  # the query only returns sealed entries
            problem = _check_entry(entry, expected_seq=expected_seq, prev_hash=prev_hash)
            if problem is None:
                problem = _check_checkpoint(settings, checkpoints.get(seq), entry)
            if problem is not None:
                return result(expected_seq - 1, problem)
            prev_hash = entry.entry_hash or ""
            expected_seq = seq + 1
            last = entry
        session.expunge_all()  # a long trail must not pile up in the identity map

    sealed = expected_seq - 1
    # Checkpoints past the last entry: the entries they vouch for were cut off the end.
    beyond = (
        (
            await session.execute(
                select(AuditCheckpoint).where(AuditCheckpoint.seq > sealed).order_by(AuditCheckpoint.seq)
            )
        )
        .scalars()
        .all()
    )
    for checkpoint in beyond:
        if not _checkpoint_is_genuine(settings, checkpoint):
            return result(sealed, _forged(checkpoint, entry_id=None))
    if beyond:
        return result(
            sealed,
            VerifyProblem(
                reason="truncated",
                message=(
                    f"entries {sealed + 1}..{beyond[-1].seq} are missing from the end of the trail "
                    f"(the signed checkpoint says the chain reaches seq {beyond[-1].seq})"
                ),
                seq=sealed + 1,
                entry_id=None,
            ),
        )
    if last is not None and head_seq < sealed:
        tail = (
            await session.execute(select(AuditEntry.id).where(AuditEntry.seq == head_seq + 1))
        ).scalar_one()
        return result(
            head_seq,
            VerifyProblem(
                reason="unsigned_tail",
                message=(
                    f"entries {head_seq + 1}..{sealed} are sealed but no signed checkpoint covers them "
                    f"(the checkpoint was removed or rolled back, or entries were appended by hand)"
                ),
                seq=head_seq + 1,
                entry_id=tail,
            ),
        )
    return result(sealed, None)


def _check_entry(entry: AuditEntry, *, expected_seq: int, prev_hash: str) -> VerifyProblem | None:
    seq = entry.seq
    if seq != expected_seq:
        return VerifyProblem(
            reason="missing",
            message=(
                f"entry seq {expected_seq} is missing (removed, or its seq changed); "
                f"the next entry present is seq {seq} (id {entry.id})"
            ),
            seq=expected_seq,
            entry_id=None,
        )
    if entry.prev_hash != prev_hash:
        return VerifyProblem(
            reason="reordered",
            message=(
                f"entry seq {seq} (id {entry.id}) does not link to the entry before it: "
                "entries were reordered, or the one before it was replaced"
            ),
            seq=seq,
            entry_id=entry.id,
        )
    if entry.entry_hash != entry_hash(entry, seq=seq, prev_hash=prev_hash):
        return VerifyProblem(
            reason="edited",
            message=f"entry seq {seq} (id {entry.id}) was changed after it was sealed",
            seq=seq,
            entry_id=entry.id,
        )
    return None


def _check_checkpoint(
    settings: Settings, checkpoint: AuditCheckpoint | None, entry: AuditEntry
) -> VerifyProblem | None:
    if checkpoint is None:
        return None
    if not _checkpoint_is_genuine(settings, checkpoint):
        return _forged(checkpoint, entry_id=entry.id)
    if checkpoint.entry_hash != entry.entry_hash:
        return VerifyProblem(
            reason="rewritten",
            message=(
                f"entry seq {entry.seq} (id {entry.id}) differs from the signed checkpoint: "
                "the chain up to here was rewritten and re-hashed"
            ),
            seq=entry.seq,
            entry_id=entry.id,
        )
    return None


def _forged(checkpoint: AuditCheckpoint, *, entry_id: int | None) -> VerifyProblem:
    return VerifyProblem(
        reason="checkpoint_forged",
        message=f"the checkpoint at seq {checkpoint.seq} does not carry a valid signature",
        seq=checkpoint.seq,
        entry_id=entry_id,
    )


# --- reading ----------------------------------------------------------------------------------


def may_read_trail(principal: Principal) -> bool:
    """A regulator or platform administrator holding the role platform-wide reads the trail; no one else."""
    return principal.is_authenticated and any(
        principal.has_role(role, ScopeKind.platform, "") for role in AUDIT_READERS
    )


async def list_entries(
    *,
    session: AsyncSession,
    principal: Principal,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_user_id: int | None = None,
    actor_username: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Lists entries newest first for a principal entitled to read them; the read itself is audited."""
    filters: dict[str, Any] = {
        name: value
        for name, value in {
            "object_type": object_type,
            "object_id": object_id,
            "actor_user_id": actor_user_id,
            "actor_username": actor_username,
            "action": action,
            "before_id": before_id,
        }.items()
        if value is not None
    }
    if not may_read_trail(principal):
        # A refused look at the trail is itself worth knowing about.
        async with transaction(session):
            await record(
                session,
                principal,
                "audit.read_denied",
                object_type="audit_trail",
                object_id=None,
                details={"filters": filters},
            )
        require(False, reason="audit_trail")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 500)))
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    if actor_user_id is not None:
        query = query.where(AuditEntry.actor_user_id == actor_user_id)
    if actor_username is not None:
        query = query.where(AuditEntry.actor_username == actor_username)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    async with transaction(session):
        entries = list((await session.execute(query)).scalars().all())
        await record(
            session,
            principal,
            "audit.read",
            object_type="audit_trail",
            object_id=None,
            details={"filters": filters, "returned": len(entries)},
        )
    return entries
