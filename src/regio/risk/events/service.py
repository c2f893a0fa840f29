"""Risk report services: the only writers (report, update, cancel, merge, attach) and the readers routes call.

Each write is one transaction holding the new version, its audit entry and the outbox message
`risk.event.changed` that runs the spill-over and warning journey; the routes call
`regio.risk.flows.after_event_change` after commit for the fast path.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core import audit, idempotency, outbox
from regio.core.access import Principal, Role, require
from regio.core.db import transaction, utcnow
from regio.risk.events import area as area_builder
from regio.risk.events import errors, policies, repository
from regio.risk.events.enums import (
    CATEGORY_NAMES_ZH,
    EVENT_TYPES,
    GRADE_NAMES_ZH,
    LEVEL_NAMES_ZH,
    SEVERITY_BY_RANK,
    Category,
    Kind,
    MsgType,
    Scope,
    Source,
    Status,
)
from regio.risk.events.models import RiskEvent, RiskEventAttachment
from regio.risk.events.policies import Action, Target
from regio.risk.events.schemas import (
    AreaIn,
    AttachmentOut,
    EventDetail,
    EventOut,
    ReportIn,
    UpdateIn,
)
from regio.risk.geography import service as geography_service
from regio.risk.geography.engine import GeographyIndex, IndexHolder
from regio.risk.geography.enums import Level

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOPIC = "risk.event.changed"
# Clocks of reporting systems drift; a detection time this far ahead of ours is still accepted.
CLOCK_SKEW = timedelta(minutes=5)
MAX_LIST = 500


@dataclass(frozen=True)
class NewFile:
    """A file sent with a report: a photo of the flooding, a monitoring reading."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Change:
    """What a write did: the version it wrote and the active reports it may duplicate."""

    event: RiskEvent
    possible_duplicates: list[int] = field(default_factory=list)


# --- pure helpers --------------------------------------------------------------------------------


def as_utc(value: datetime) -> datetime:
    """An instant; a time typed without an offset is Beijing time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(ZoneInfo("UTC"))


def local(value: datetime) -> datetime:
    return value.astimezone(SHANGHAI)


def severity_of(kind: str, warning_level: int | None, grade: int | None) -> str:
    rank = warning_level if kind == Kind.risk else grade
    assert rank is not None
    return SEVERITY_BY_RANK[rank].value


def check_scale(kind: str, warning_level: int | None, grade: int | None) -> None:
    """Two scales, not one: a risk has exactly a warning level, an event exactly a grade."""
    if kind == Kind.risk and warning_level is not None and grade is None:
        return
    if kind == Kind.event and grade is not None and warning_level is None:
        return
    raise errors.LevelAndGrade(kind=kind, warning_level=warning_level, grade=grade)


def check_type(category: str, event_type: str) -> None:
    known = EVENT_TYPES.get(event_type)
    if known is None:
        raise errors.UnknownEventType(event_type=event_type[:64])
    if known.category != category:
        raise errors.CategoryMismatch(event_type=event_type, category=category, expected=known.category.value)


def new_identifier(adcode: str, now: datetime) -> str:
    """regio-<adcode>-<yyyymmddHHMMSS in Beijing time>-<random>: unique, and readable by a person."""
    return f"regio-{adcode}-{local(now):%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def default_sender(base_url: str) -> str:
    """The CAP sender of reports made on this platform."""
    host = urlparse(base_url).hostname or "localhost"
    return f"regio@{host}"


def default_headline(
    *, origin_name: str, event_type: str, kind: str, warning_level: int | None, grade: int | None
) -> str:
    return origin_name + _scale_words(event_type, kind, warning_level, grade)


def _scale_words(event_type: str, kind: str, warning_level: int | None, grade: int | None) -> str:
    type_name = EVENT_TYPES[event_type].name_zh
    if kind == Kind.risk and warning_level is not None:
        return f"{type_name}{LEVEL_NAMES_ZH[warning_level]}"
    return f"{type_name}事件（{GRADE_NAMES_ZH[grade or 4]}）"


def _rescaled_headline(old: RiskEvent, changes: dict[str, Any]) -> str:
    """A headline the platform wrote follows a new level or grade; one a person wrote stays theirs."""
    before = _scale_words(old.event_type, old.kind, old.warning_level, old.grade)
    if not old.headline.endswith(before):
        return old.headline
    after = _scale_words(old.event_type, changes["kind"], changes["warning_level"], changes["grade"])
    return (old.headline[: -len(before)] + after)[:200]


def prefix_of(adcode: str) -> str:
    """The adcode prefix shared by a jurisdiction and everything inside it (GB/T 2260)."""
    if adcode.endswith("0000"):
        return adcode[:2]
    if adcode.endswith("00"):
        return adcode[:4]
    return adcode


def is_duplicate(one: RiskEvent, shape: shapely.Geometry, other: RiskEvent, window: timedelta) -> bool:
    """Same type, intersecting areas, detected within the window of each other."""
    if one.event_type != other.event_type or abs(one.detected_at - other.detected_at) > window:
        return False
    return bool(shape.intersects(area_builder.as_shape(other.geometry)))


def to_out(event: RiskEvent) -> EventOut:
    return EventOut.model_validate(event)


# --- context the policy needs --------------------------------------------------------------------


async def _index(session: AsyncSession, holder: IndexHolder) -> GeographyIndex:
    return await geography_service.current_index(session=session, holder=holder)


async def _bodies_of(session: AsyncSession, principal: Principal, adcode: str) -> frozenset[str]:
    found = await geography_service.bodies_of(session=session, principal=principal, adcode=adcode)
    return frozenset(body.slug for body in found.bodies)


async def target_of(session: AsyncSession, principal: Principal, origin_adcode: str) -> Target:
    return Target(origin_adcode=origin_adcode, bodies=await _bodies_of(session, principal, origin_adcode))


async def principal_bodies(session: AsyncSession, principal: Principal) -> frozenset[str]:
    """The bodies the officer's own jurisdictions belong to."""
    bodies: set[str] = set()
    for adcode in sorted(policies.officer_jurisdictions(principal)):
        if len(adcode) == 6 and adcode.isdigit():
            bodies |= await _bodies_of(session, principal, adcode)
    return frozenset(bodies)


async def may(session: AsyncSession, principal: Principal, action: Action, event: RiskEvent) -> bool:
    target = await target_of(session, principal, event.origin_adcode)
    extra = await principal_bodies(session, principal) if action == Action.read else frozenset()
    return policies.may(principal, action, target, principal_bodies=extra)


async def require_may(session: AsyncSession, principal: Principal, action: Action, event: RiskEvent) -> None:
    require(
        await may(session, principal, action, event), action=f"risk_event.{action.value}", event_id=event.id
    )


async def visible_prefixes(session: AsyncSession, principal: Principal) -> list[str] | None:
    """The origin adcode prefixes a principal may read; None for everywhere."""
    if principal.has_role(Role.platform_admin) or principal.roles & {Role.regulator, Role.evaluator}:
        return None
    prefixes = {prefix_of(adcode) for adcode in policies.officer_jurisdictions(principal)}
    slugs = set(policies.coordinator_bodies(principal))
    if policies.officer_jurisdictions(principal):
        slugs |= await principal_bodies(session, principal)
    for slug in sorted(slugs):
        body = await geography_service.get_body(session=session, principal=principal, slug=slug)
        prefixes |= {prefix_of(member.adcode) for member in body.members}
    return sorted(prefixes)


# --- duplicates ----------------------------------------------------------------------------------


async def _duplicates(
    session: AsyncSession, event: RiskEvent, shape: shapely.Geometry, window: timedelta
) -> list[int]:
    candidates = await repository.duplicate_candidates(
        session,
        event_type=event.event_type,
        earliest=event.detected_at - window,
        latest=event.detected_at + window,
        exclude_root_id=event.root_id,
    )
    return [other.id for other in candidates if is_duplicate(event, shape, other, window)]


async def possible_duplicates(*, session: AsyncSession, event: RiskEvent, window_hours: int) -> list[int]:
    """Active reports of other chains that this active version may duplicate."""
    if event.status != Status.active:
        return []
    shape = area_builder.as_shape(event.geometry)
    return await _duplicates(session, event, shape, timedelta(hours=window_hours))


# --- writes --------------------------------------------------------------------------------------


async def _identifier_taken(session: AsyncSession, identifier: str) -> errors.IdentifierTaken:
    existing = await repository.by_identifier(session, identifier)
    return errors.IdentifierTaken(identifier=identifier, event_id=existing.id if existing else None)


async def report(
    *,
    session: AsyncSession,
    principal: Principal,
    holder: IndexHolder,
    data: ReportIn,
    source: Source,
    sender: str,
    duplicate_window_hours: int,
    identifier: str | None = None,
    raw_cap: str | None = None,
    idempotent: idempotency.IdempotentRequest | None = None,
    files: Sequence[NewFile] = (),
    max_file_bytes: int = 0,
) -> Change:
    """Records a new report (version 1, its own root) and offers the active reports it may duplicate.

    Files given with it are attached in the same transaction: a report is never stored without
    the files its reporter sent, nor files without their report.
    """
    for file in files:
        if len(file.data) > max_file_bytes:
            raise errors.AttachmentTooLarge(limit=max_file_bytes, filename=file.filename[:255])
    require(policies.could_ever(principal, Action.report), action="risk_event.report")
    check_type(data.category, data.event_type)
    check_scale(data.kind, data.warning_level, data.grade)
    now = utcnow()
    detected = as_utc(data.detected_at)
    if detected > now + CLOCK_SKEW:
        raise errors.DetectedInFuture(detected_at=detected.isoformat())
    expires = as_utc(data.expires_at) if data.expires_at is not None else None
    if expires is not None and expires <= detected:
        raise errors.ExpiresBeforeDetected()
    index = await _index(session, holder)
    origin = index.get(Level(data.origin_level), data.origin_adcode)
    if origin is None:
        raise errors.OriginOutsideScope(level=data.origin_level.value, adcode=data.origin_adcode)
    target = await target_of(session, principal, data.origin_adcode)
    require(
        policies.may(principal, Action.report, target), action="risk_event.report", origin=data.origin_adcode
    )
    built = area_builder.build(index, data.area)
    headline = data.headline.strip() or default_headline(
        origin_name=origin.name,
        event_type=data.event_type,
        kind=data.kind,
        warning_level=data.warning_level,
        grade=data.grade,
    )
    event = RiskEvent(
        identifier=identifier or new_identifier(data.origin_adcode, now),
        sender=sender,
        version=1,
        references_id=None,
        msg_type=MsgType.alert.value,
        status=Status.active.value,
        category=data.category.value,
        event_type=data.event_type,
        kind=data.kind.value,
        warning_level=data.warning_level,
        grade=data.grade,
        severity=severity_of(data.kind, data.warning_level, data.grade),
        certainty=data.certainty.value,
        urgency=data.urgency.value,
        scope=data.scope.value,
        origin_level=data.origin_level.value,
        origin_adcode=data.origin_adcode,
        geometry=area_builder.plain(built.geometry),
        area=built.area,
        area_desc=built.area_desc[:500],
        detected_at=detected,
        reported_at=now,
        expires_at=expires,
        reported_by_user_id=principal.user_id,
        headline=headline[:200],
        description=data.description,
        instruction=data.instruction,
        source=source.value,
        raw_cap=raw_cap,
    )
    window = timedelta(hours=duplicate_window_hours)
    try:
        async with transaction(session):
            await idempotency.claim(session, idempotent)
            repository.add(session, event)
            await session.flush()
            event.root_id = event.id
            for file in files:
                repository.add_attachment(session, _attachment(event, principal, file))
            await session.flush()
            duplicates = await _duplicates(session, event, built.shape, window)
            await audit.record(
                session,
                principal,
                "risk_event.reported",
                object_type="risk_event",
                object_id=event.id,
                details={
                    "identifier": event.identifier,
                    "event_type": event.event_type,
                    "kind": event.kind,
                    "warning_level": event.warning_level,
                    "grade": event.grade,
                    "origin": f"{event.origin_level}:{event.origin_adcode}",
                    "source": event.source,
                    "possible_duplicates": duplicates,
                    "attachments": [hashlib.sha256(file.data).hexdigest() for file in files],
                },
            )
            outbox.enqueue(session, TOPIC, {"event_id": event.id, "change": "reported"})
            # a retry answers as the first time did (the affected jurisdictions are worked out again)
            await idempotency.settle(
                session,
                idempotent,
                status=201,
                body={"event_id": event.id, "possible_duplicates": duplicates},
            )
    except IntegrityError:
        raise await _identifier_taken(session, event.identifier) from None
    return Change(event=event, possible_duplicates=duplicates)


async def _current_active(session: AsyncSession, event_id: int, version: int | None) -> RiskEvent:
    """The version a change applies to: it must be the chain's active one (and the one the caller saw)."""
    event = await get_event(session, event_id)
    if event.status == Status.superseded:
        current = await repository.current_of(session, event.root_id or event.id)
        raise errors.StaleVersion(version=event.version, current_id=current.id if current else None)
    if event.status != Status.active:
        raise errors.EventNotActive(status=event.status)
    if version is not None and version != event.version:
        raise errors.StaleVersion(version=version, current_id=event.id)
    return event


def _next_version(old: RiskEvent, **changes: Any) -> RiskEvent:
    fields = {
        column: getattr(old, column)
        for column in (
            "sender",
            "category",
            "event_type",
            "kind",
            "warning_level",
            "grade",
            "severity",
            "certainty",
            "urgency",
            "scope",
            "origin_level",
            "origin_adcode",
            "geometry",
            "area",
            "area_desc",
            "detected_at",
            "expires_at",
            "headline",
            "description",
            "instruction",
        )
    }
    fields.update(changes)
    return RiskEvent(version=old.version + 1, references_id=old.id, root_id=old.root_id, **fields)


async def _write_version(
    session: AsyncSession, principal: Principal, old: RiskEvent, new: RiskEvent, *, change: str, action: str
) -> RiskEvent:
    """Supersedes `old` and stores `new` in one transaction; the conditional UPDATE decides a race."""
    try:
        async with transaction(session):
            if not await repository.supersede(session, old.id):
                raise errors.StaleVersion(version=old.version, current_id=None)
            repository.add(session, new)
            await session.flush()
            await audit.record(
                session,
                principal,
                action,
                object_type="risk_event",
                object_id=new.id,
                details={
                    "identifier": new.identifier,
                    "root_id": new.root_id,
                    "version": new.version,
                    "references_id": old.id,
                    "msg_type": new.msg_type,
                    "warning_level": new.warning_level,
                    "grade": new.grade,
                    "source": new.source,
                },
            )
            outbox.enqueue(session, TOPIC, {"event_id": new.id, "change": change})
    except IntegrityError:
        # the identifier of an imported alert, or (behind the UPDATE) a second version number
        existing = await repository.by_identifier(session, new.identifier)
        if existing is not None:
            raise errors.IdentifierTaken(identifier=new.identifier, event_id=existing.id) from None
        raise errors.StaleVersion(version=old.version, current_id=None) from None
    return new


async def update(
    *,
    session: AsyncSession,
    principal: Principal,
    holder: IndexHolder,
    event_id: int,
    data: UpdateIn,
    source: Source,
    sender: str | None = None,
    identifier: str | None = None,
    raw_cap: str | None = None,
) -> RiskEvent:
    """A new version of an active report (CAP Update); the fields not given stay as they were."""
    old = await _current_active(session, event_id, data.version)
    await require_may(session, principal, Action.update, old)
    given = data.model_fields_set
    changes: dict[str, Any] = {}
    if given & {"kind", "warning_level", "grade"}:
        kind = (data.kind or Kind(old.kind)).value
        check_scale(kind, data.warning_level, data.grade)
        changes.update(
            kind=kind,
            warning_level=data.warning_level,
            grade=data.grade,
            severity=severity_of(kind, data.warning_level, data.grade),
        )
    for name in ("certainty", "urgency", "scope"):
        value = getattr(data, name)
        if value is not None:
            changes[name] = value.value
    for name in ("headline", "description", "instruction"):
        value = getattr(data, name)
        if value is not None:
            changes[name] = value
    now = utcnow()
    if data.detected_at is not None:
        detected = as_utc(data.detected_at)
        if detected > now + CLOCK_SKEW:
            raise errors.DetectedInFuture(detected_at=detected.isoformat())
        changes["detected_at"] = detected
    if "expires_at" in given:
        changes["expires_at"] = as_utc(data.expires_at) if data.expires_at is not None else None
    expires = changes.get("expires_at", old.expires_at)
    if expires is not None and expires <= changes.get("detected_at", old.detected_at):
        raise errors.ExpiresBeforeDetected()
    if data.area is not None:
        built = area_builder.build(await _index(session, holder), data.area)
        changes.update(
            geometry=area_builder.plain(built.geometry), area=built.area, area_desc=built.area_desc[:500]
        )
    if "headline" not in changes and {"kind", "warning_level", "grade"} & changes.keys():
        changes["headline"] = _rescaled_headline(old, changes)
    new = _next_version(
        old,
        **changes,
        identifier=identifier or new_identifier(old.origin_adcode, now),
        msg_type=MsgType.update.value,
        status=Status.active.value,
        reported_at=now,
        reported_by_user_id=principal.user_id,
        source=source.value,
        raw_cap=raw_cap,
    )
    if sender is not None:
        new.sender = sender
    return await _write_version(session, principal, old, new, change="updated", action="risk_event.updated")


async def cancel(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: int,
    reason: str,
    source: Source,
    version: int | None = None,
    sender: str | None = None,
    identifier: str | None = None,
    raw_cap: str | None = None,
) -> RiskEvent:
    """Withdraws an active report (CAP Cancel): a last version, cancelled, that references the one before."""
    old = await _current_active(session, event_id, version)
    await require_may(session, principal, Action.cancel, old)
    now = utcnow()
    new = _next_version(
        old,
        identifier=identifier or new_identifier(old.origin_adcode, now),
        msg_type=MsgType.cancel.value,
        status=Status.cancelled.value,
        reported_at=now,
        reported_by_user_id=principal.user_id,
        source=source.value,
        raw_cap=raw_cap,
        description=reason or old.description,
    )
    if sender is not None:
        new.sender = sender
    return await _write_version(
        session, principal, old, new, change="cancelled", action="risk_event.cancelled"
    )


async def merge(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: int,
    into_id: int,
    reason: str,
    duplicate_window_hours: int,
) -> RiskEvent:
    """Folds a duplicate report into another active one: the duplicate's chain ends as merged (audited)."""
    duplicate = await _current_active(session, event_id, None)
    original = await _current_active(session, into_id, None)
    if duplicate.root_id == original.root_id:
        raise errors.MergeIntoItself()
    await require_may(session, principal, Action.merge, duplicate)
    await require_may(session, principal, Action.read, original)
    window = timedelta(hours=duplicate_window_hours)
    if not is_duplicate(duplicate, area_builder.as_shape(duplicate.geometry), original, window):
        raise errors.NotADuplicate(event_id=duplicate.id, into=original.id)
    async with transaction(session):
        # both rows locked in id order, so two crossing merges cannot deadlock; the second finds one gone
        for row_id in sorted((duplicate.id, original.id)):
            if not await repository.lock_active(session, row_id):
                raise errors.EventNotActive(status="changed")
        if not await repository.mark_merged(session, duplicate.id, original.root_id or original.id):
            raise errors.EventNotActive(status="changed")
        await audit.record(
            session,
            principal,
            "risk_event.merged",
            object_type="risk_event",
            object_id=duplicate.id,
            details={
                "identifier": duplicate.identifier,
                "into_event_id": original.id,
                "into_root_id": original.root_id,
                "reason": reason,
            },
        )
        # to the warnings, a merged duplicate is a withdrawn report
        outbox.enqueue(
            session, TOPIC, {"event_id": duplicate.id, "change": "cancelled", "merged_into": original.id}
        )
    await session.refresh(duplicate)
    return duplicate


def _attachment(event: RiskEvent, principal: Principal, file: NewFile) -> RiskEventAttachment:
    return RiskEventAttachment(
        event_id=event.id,
        filename=(file.filename or "attachment").replace("/", "_").replace("\\", "_")[:255],
        content_type=(file.content_type or "application/octet-stream")[:100],
        size_bytes=len(file.data),
        sha256=hashlib.sha256(file.data).hexdigest(),
        data=file.data,
        uploaded_by_user_id=principal.user_id,
    )


async def add_attachment(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: int,
    filename: str,
    content_type: str,
    data: bytes,
    max_bytes: int,
) -> AttachmentOut:
    """Attaches a file (a photo, a monitoring reading) to a version of a report."""
    event = await get_event(session, event_id)
    await require_may(session, principal, Action.update, event)
    if len(data) > max_bytes:
        raise errors.AttachmentTooLarge(limit=max_bytes)
    attachment = _attachment(
        event, principal, NewFile(filename=filename, content_type=content_type, data=data)
    )
    async with transaction(session):
        repository.add_attachment(session, attachment)
        await session.flush()
        await audit.record(
            session,
            principal,
            "risk_event.attachment_added",
            object_type="risk_event",
            object_id=event.id,
            details={
                "attachment_id": attachment.id,
                "sha256": attachment.sha256,
                "size": attachment.size_bytes,
            },
        )
    return AttachmentOut(
        id=attachment.id,
        event_id=attachment.event_id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size_bytes=attachment.size_bytes,
        sha256=attachment.sha256,
        created_at=attachment.created_at,
    )


# --- reads ---------------------------------------------------------------------------------------


async def find_by_identifier(session: AsyncSession, identifier: str) -> RiskEvent | None:
    """The version with a CAP identifier, if received or made here."""
    return await repository.by_identifier(session, identifier)


async def current_version(session: AsyncSession, event: RiskEvent) -> RiskEvent:
    """The newest version of the event's chain."""
    return await repository.current_of(session, event.root_id or event.id) or event


async def versions(session: AsyncSession, event: RiskEvent) -> list[RiskEvent]:
    """The event's chain, oldest first."""
    return list(await repository.chain(session, event.root_id or event.id))


async def get_event(session: AsyncSession, event_id: int) -> RiskEvent:
    """One version by id, whoever asks (for the platform's own journeys; routes use read_event)."""
    event = await repository.get(session, event_id)
    if event is None:
        raise errors.EventNotFound(event_id=event_id)
    return event


async def read_event(
    *, session: AsyncSession, principal: Principal, event_id: int, duplicate_window_hours: int
) -> EventDetail:
    """A version with its whole chain, its attachments and the active reports it may duplicate."""
    event = await get_event(session, event_id)
    await require_may(session, principal, Action.read, event)
    versions = await repository.chain(session, event.root_id or event.id)
    files = await repository.attachments(session, [v.id for v in versions])
    return EventDetail(
        event=to_out(event),
        versions=[to_out(v) for v in versions],
        attachments=[AttachmentOut.model_validate(row, from_attributes=True) for row in files],
        possible_duplicates=await possible_duplicates(
            session=session, event=event, window_hours=duplicate_window_hours
        ),
    )


async def read_attachment(
    *, session: AsyncSession, principal: Principal, event_id: int, attachment_id: int
) -> RiskEventAttachment:
    event = await get_event(session, event_id)
    await require_may(session, principal, Action.read, event)
    attachment = await repository.attachment(session, attachment_id)
    if attachment is None or attachment.event_id != event.id:
        raise errors.AttachmentNotFound(attachment_id=attachment_id)
    return attachment


async def list_active(
    session: AsyncSession,
    *,
    principal: Principal | None = None,
    origin_prefixes: Sequence[str] | None = None,
    scope: Scope | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RiskEvent]:
    """The active reports (current versions), newest first; only those the principal may read when one is given."""
    return await list_events(
        session,
        principal=principal,
        statuses=(Status.active.value,),
        origin_prefixes=origin_prefixes,
        scope=scope,
        limit=limit,
        offset=offset,
    )


async def list_events(
    session: AsyncSession,
    *,
    principal: Principal | None,
    statuses: Sequence[str],
    origin_prefixes: Sequence[str] | None = None,
    scope: Scope | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RiskEvent]:
    prefixes: list[str] | None = list(origin_prefixes) if origin_prefixes is not None else None
    if principal is not None:
        require(policies.could_ever(principal, Action.read), action="risk_event.read")
        visible = await visible_prefixes(session, principal)
        if visible is not None:
            prefixes = (
                visible
                if prefixes is None
                else [p for p in prefixes if any(p.startswith(v) for v in visible)]
                + [v for v in visible if any(v.startswith(p) for p in prefixes)]
            )
    rows = await repository.list_current(
        session,
        statuses=statuses,
        origin_prefixes=prefixes,
        scope=scope.value if scope is not None else None,
        limit=min(limit, MAX_LIST),
        offset=offset,
    )
    return list(rows)


def event_types() -> list[dict[str, str]]:
    return [
        {"code": t.code, "category": t.category.value, "name_zh": t.name_zh, "name_en": t.name_en}
        for t in EVENT_TYPES.values()
    ]


def category_name(category: str) -> str:
    return CATEGORY_NAMES_ZH[Category(category)]


__all__ = ["AreaIn", "Change", "ReportIn", "UpdateIn"]
