"""CAP 1.2 in and out: alerts become risk reports (new, updated, cancelled), reports become alerts and feeds.

Mapping (both ways):
- msgType Alert / Update / Cancel ↔ a report, a new version, a cancellation; `references`
  ("sender,identifier,sent" entries) name the version an Update or Cancel replaces.
- severity Extreme / Severe / Moderate / Minor ↔ warning level 1–4 of a risk or grade I–IV of an
  event (DOMAIN.md); the exact scale travels in the parameters REGIO-KIND, REGIO-WARNING-LEVEL and
  REGIO-GRADE. An alert from elsewhere without them is read as a risk at the level of its severity.
- the event type travels in <eventCode> REGIO-EVENT-TYPE; otherwise it is recognised from <event>.
- <polygon> and <circle> are WGS-84 "lat,lon" (a circle's radius in km); a <geocode> ADCODE
  (or GB2260) is the jurisdiction's boundary from geography; REGIO-ORIGIN names the reporting
  jurisdiction as "level:adcode".
- times carry Beijing's +08:00 offset (the schema forbids "Z").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import shapely
from lxml import etree
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from regio.core.access import Principal, require
from regio.core.db import utcnow
from regio.risk.cap import errors
from regio.risk.cap import xml as capxml
from regio.risk.events import area as area_builder
from regio.risk.events import policies as events_policies
from regio.risk.events import service as events_service
from regio.risk.events.enums import (
    CAP_CATEGORY,
    CATEGORY_NAMES_ZH,
    EVENT_TYPES,
    GRADE_NUMERALS,
    LEVEL_COLOURS,
    RANK_BY_SEVERITY,
    Category,
    Kind,
    Scope,
    Severity,
    Source,
    Status,
)
from regio.risk.events.models import RiskEvent
from regio.risk.events.policies import Action
from regio.risk.events.schemas import AreaIn, CircleIn, ReportIn, UpdateIn
from regio.risk.geography import service as geography_service
from regio.risk.geography.engine import GeographyIndex, IndexHolder
from regio.risk.geography.enums import Level

GEOCODE_NAMES = {"ADCODE", "GB2260", "GB/T2260", "GB/T 2260", "CN-ADCODE"}
ORIGIN_GEOCODE = "REGIO-ORIGIN"
EVENT_CODE = "REGIO-EVENT-TYPE"
P_KIND, P_LEVEL, P_GRADE, P_ORIGIN, P_COLOUR = (
    "REGIO-KIND",
    "REGIO-WARNING-LEVEL",
    "REGIO-GRADE",
    "REGIO-ORIGIN",
    "REGIO-WARNING-COLOUR",
)
FEED_LIMIT = 200
Model = TypeVar("Model", bound=BaseModel)


@dataclass
class Imported:
    event: RiskEvent
    possible_duplicates: list[int]


# --- reading an alert --------------------------------------------------------------------------------


def _chosen_info(alert: capxml.Alert) -> capxml.Info:
    """The Chinese <info> if there is one, else the first."""
    if not alert.infos:
        raise errors.CapInvalid(errors=[{"line": 0, "column": 0, "message": "the alert has no <info>"}])
    for info in alert.infos:
        if info.language.lower().startswith("zh"):
            return info
    return alert.infos[0]


def _event_type(info: capxml.Info) -> str:
    code = info.event_codes.get(EVENT_CODE)
    if code:
        if code not in EVENT_TYPES:
            raise errors.CapUnknownEventType(event=code[:64])
        return code
    wanted = info.event.strip().lower()
    for known in EVENT_TYPES.values():
        if wanted in (known.code, known.name_zh, known.name_en.lower()):
            return known.code
    # "暴雨橙色预警": the longest type name the event (or headline) contains
    text = f"{info.event} {info.headline}"
    named = [t for t in EVENT_TYPES.values() if t.name_zh in text]
    if named:
        return max(named, key=lambda t: len(t.name_zh)).code
    raise errors.CapUnknownEventType(event=info.event[:64])


def _scale(info: capxml.Info) -> tuple[Kind, int | None, int | None]:
    kind_text = info.parameters.get(P_KIND, "").strip().lower()
    level_text = info.parameters.get(P_LEVEL, "").strip()
    grade_text = info.parameters.get(P_GRADE, "").strip()
    try:
        level = int(level_text) if level_text else None
        grade = int(grade_text) if grade_text else None
    except ValueError:
        raise errors.CapNoScale(level=level_text[:10], grade=grade_text[:10]) from None
    if kind_text in (Kind.risk.value, Kind.event.value):
        return Kind(kind_text), level, grade
    if level is not None or grade is not None:
        return (Kind.risk if level is not None else Kind.event), level, grade
    rank = RANK_BY_SEVERITY.get(Severity(info.severity)) if info.severity in set(Severity) else None
    if rank is None:
        raise errors.CapNoScale(severity=info.severity)
    return Kind.risk, rank, None


def _area(info: capxml.Info) -> AreaIn:
    circles = []
    for text, line in info.circles:
        try:
            centre, radius = text.split()
            lat, lon = (float(part) for part in centre.split(","))
            circles.append(CircleIn(lat=lat, lon=lon, radius_km=float(radius)))
        except ValueError:
            raise errors.CapInvalid(
                errors=[
                    {
                        "line": line,
                        "column": 0,
                        "message": f"circle {text[:60]!r} is not 'lat,lon radius_km' with a radius above 0",
                    }
                ]
            ) from None
    adcodes = [value for name, value in info.geocodes if name.upper() in GEOCODE_NAMES]
    for code in adcodes:
        if not (len(code) == 6 and code.isdigit()):
            raise errors.CapInvalid(
                errors=[{"line": 0, "column": 0, "message": f"geocode {code[:20]!r} is not a 6-digit adcode"}]
            )
    return _checked(
        AreaIn,
        adcodes=list(dict.fromkeys(adcodes)),
        circles=circles,
        cap_polygons=[text for text, _line in info.polygons],
    )


def _origin(
    info: capxml.Info, area: AreaIn, index: GeographyIndex, principal: Principal
) -> tuple[Level, str]:
    named = info.parameters.get(P_ORIGIN) or dict(info.geocodes).get(ORIGIN_GEOCODE)
    if named:
        level_text, _, adcode = named.partition(":")
        if level_text in set(Level) and index.get(Level(level_text), adcode) is not None:
            return Level(level_text), adcode
        raise errors.CapNoOrigin(origin=named[:40])
    for adcode in area.adcodes:
        found = index.find(adcode)
        if found:
            return found[0].level, adcode
    scopes = sorted(events_policies.officer_jurisdictions(principal))
    if len(scopes) == 1:
        found = index.find(scopes[0])
        if found:
            return found[0].level, scopes[0]
    raise errors.CapNoOrigin(origin="")


def _checked(model: type[Model], **fields: Any) -> Model:
    """A request model built from an alert's fields; what it refuses is the alert's fault, told as such."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise errors.CapInvalid(
            errors=[
                {
                    "line": 0,
                    "column": 0,
                    "message": f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}",
                }
                for problem in exc.errors()[: capxml.MAX_ERRORS]
            ]
        ) from None


def _instant(value: str | None) -> datetime | None:
    return capxml.parse_time(value) if value else None


async def import_alert(
    *,
    session: AsyncSession,
    principal: Principal,
    holder: IndexHolder,
    raw: bytes,
    max_bytes: int,
    duplicate_window_hours: int,
) -> Imported:
    """Checks a CAP 1.2 alert and records it as a new report, an update or a cancellation."""
    require(events_policies.could_ever(principal, Action.report), action="cap.import")
    root = capxml.parse(raw, max_bytes=max_bytes)
    alert = capxml.read(root)
    if alert.status != "Actual" or alert.msg_type not in ("Alert", "Update", "Cancel"):
        raise errors.CapUnsupported(what=f"{alert.status} {alert.msg_type}")
    text = raw.decode("utf-8", errors="replace")
    if alert.msg_type == "Alert":
        info = _chosen_info(alert)
        event_type = _event_type(info)
        kind, level, grade = _scale(info)
        area = _area(info)
        index = await geography_service.current_index(session=session, holder=holder)
        origin_level, origin_adcode = _origin(info, area, index, principal)
        data = _checked(
            ReportIn,
            category=EVENT_TYPES[event_type].category,
            event_type=event_type,
            kind=kind,
            warning_level=level,
            grade=grade,
            certainty=info.certainty,
            urgency=info.urgency,
            scope=Scope(alert.scope.lower()),
            origin_level=origin_level,
            origin_adcode=origin_adcode,
            area=area,
            detected_at=_instant(info.onset) or _instant(info.effective) or capxml.parse_time(alert.sent),
            expires_at=_instant(info.expires),
            headline=info.headline[:200],
            description=info.description[:20_000],
            instruction=info.instruction[:5_000],
        )
        change = await events_service.report(
            session=session,
            principal=principal,
            holder=holder,
            data=data,
            source=Source.cap,
            sender=alert.sender,
            identifier=alert.identifier,
            raw_cap=text,
            duplicate_window_hours=duplicate_window_hours,
        )
        return Imported(event=change.event, possible_duplicates=change.possible_duplicates)
    current = await _referenced(session, alert)
    if alert.msg_type == "Cancel":
        reason = alert.infos[0].description if alert.infos else ""
        event = await events_service.cancel(
            session=session,
            principal=principal,
            event_id=current.id,
            reason=reason,
            source=Source.cap,
            sender=alert.sender,
            identifier=alert.identifier,
            raw_cap=text,
        )
        return Imported(event=event, possible_duplicates=[])
    info = _chosen_info(alert)
    event_type = _event_type(info)
    if event_type != current.event_type:
        raise errors.CapInvalid(
            errors=[
                {
                    "line": 0,
                    "column": 0,
                    "message": f"an update cannot change the event type ({current.event_type} → {event_type})",
                }
            ]
        )
    kind, level, grade = _scale(info)
    update = _checked(
        UpdateIn,
        kind=kind,
        warning_level=level,
        grade=grade,
        certainty=info.certainty,
        urgency=info.urgency,
        scope=Scope(alert.scope.lower()),
        area=_area(info),
        headline=info.headline[:200],
        description=info.description[:20_000],
        instruction=info.instruction[:5_000],
        expires_at=_instant(info.expires),
    )
    detected = _instant(info.onset) or _instant(info.effective)
    if detected is not None:
        update.detected_at = detected
    event = await events_service.update(
        session=session,
        principal=principal,
        holder=holder,
        event_id=current.id,
        data=update,
        source=Source.cap,
        sender=alert.sender,
        identifier=alert.identifier,
        raw_cap=text,
    )
    return Imported(event=event, possible_duplicates=[])


async def _referenced(session: AsyncSession, alert: capxml.Alert) -> RiskEvent:
    """The active version of the chain an Update or Cancel refers to."""
    if not alert.references:
        raise errors.CapInvalid(
            errors=[
                {
                    "line": 0,
                    "column": 0,
                    "message": f"an {alert.msg_type} must name the alert it replaces in <references>",
                }
            ]
        )
    found: list[RiskEvent] = []
    for sender, identifier, sent in alert.references:
        event = await events_service.find_by_identifier(session, identifier)
        if event is None or event.sender != sender:
            raise errors.CapUnknownReference(reference=f"{sender},{identifier},{sent}")
        found.append(event)
    roots = {event.root_id for event in found}
    if len(roots) != 1:
        raise errors.CapInvalid(
            errors=[{"line": 0, "column": 0, "message": "the references name more than one report"}]
        )
    return await events_service.current_version(session, found[0])


# --- writing an alert --------------------------------------------------------------------------------


def _reference(event: RiskEvent) -> str:
    return f"{event.sender},{event.identifier},{capxml.cap_time(events_service.local(event.reported_at))}"


def _polygons_from_geometry(geometry: dict[str, Any]) -> list[str]:
    shape = area_builder.as_shape(geometry)
    polygons = [shape] if isinstance(shape, shapely.Polygon) else list(getattr(shape, "geoms", []))
    return [
        area_builder.cap_polygon_text(polygon.exterior.coords)
        for polygon in polygons
        if isinstance(polygon, shapely.Polygon)
    ]


def build_alert(event: RiskEvent, *, earlier: Sequence[RiskEvent], origin_name: str, web: str) -> bytes:
    """A CAP 1.2 alert for one version of a report (references name the versions before it)."""
    known = EVENT_TYPES[event.event_type]
    root = capxml.element(None, "alert")
    capxml.element(root, "identifier", event.identifier)
    capxml.element(root, "sender", event.sender)
    capxml.element(root, "sent", capxml.cap_time(events_service.local(event.reported_at)))
    capxml.element(root, "status", "Actual")
    capxml.element(root, "msgType", event.msg_type.capitalize())
    capxml.element(root, "source", "Regio")
    capxml.element(root, "scope", event.scope.capitalize())
    if event.scope == Scope.restricted:
        capxml.element(
            root,
            "restriction",
            "仅限应急管理部门和协调机构 / emergency agencies and coordination bodies only",
        )
    if event.scope == Scope.private:
        capxml.element(root, "addresses", f"{event.origin_level}:{event.origin_adcode}")
    if earlier:
        capxml.element(root, "references", " ".join(_reference(e) for e in earlier))
    info = capxml.element(root, "info")
    capxml.element(info, "language", "zh-CN")
    capxml.element(info, "category", known.cap_category)
    if CAP_CATEGORY[Category(event.category)] != known.cap_category:
        capxml.element(info, "category", CAP_CATEGORY[Category(event.category)])
    capxml.element(info, "event", known.name_zh)
    capxml.element(info, "responseType", "Monitor" if event.status != Status.cancelled else "AllClear")
    capxml.element(info, "urgency", event.urgency)
    capxml.element(info, "severity", event.severity)
    capxml.element(info, "certainty", event.certainty)
    capxml.pair(info, "eventCode", EVENT_CODE, event.event_type)
    capxml.element(info, "effective", capxml.cap_time(events_service.local(event.reported_at)))
    capxml.element(info, "onset", capxml.cap_time(events_service.local(event.detected_at)))
    if event.expires_at is not None:
        capxml.element(info, "expires", capxml.cap_time(events_service.local(event.expires_at)))
    capxml.element(info, "senderName", origin_name)
    capxml.element(info, "headline", event.headline)
    if event.description:
        capxml.element(info, "description", event.description)
    if event.instruction:
        capxml.element(info, "instruction", event.instruction)
    capxml.element(info, "web", web)
    capxml.pair(info, "parameter", P_KIND, event.kind)
    if event.warning_level is not None:
        capxml.pair(info, "parameter", P_LEVEL, str(event.warning_level))
        capxml.pair(info, "parameter", P_COLOUR, LEVEL_COLOURS[event.warning_level])
    if event.grade is not None:
        capxml.pair(info, "parameter", P_GRADE, str(event.grade))
        capxml.pair(info, "parameter", "REGIO-GRADE-NUMERAL", GRADE_NUMERALS[event.grade])
    capxml.pair(info, "parameter", P_ORIGIN, f"{event.origin_level}:{event.origin_adcode}")
    capxml.pair(info, "parameter", "REGIO-CATEGORY", CATEGORY_NAMES_ZH[Category(event.category)])
    area = capxml.element(info, "area")
    capxml.element(area, "areaDesc", event.area_desc or origin_name)
    parts = event.area or {}
    polygons = list(parts.get("polygons") or [])
    circles = list(parts.get("circles") or [])
    geocodes = list(parts.get("geocodes") or [])
    if not (polygons or circles or geocodes):
        polygons = _polygons_from_geometry(event.geometry)
    for polygon in polygons:
        capxml.element(area, "polygon", polygon)
    for circle in circles:
        centre = f"{area_builder.number_text(circle['lat'])},{area_builder.number_text(circle['lon'])}"
        capxml.element(area, "circle", f"{centre} {area_builder.number_text(circle['radius_km'])}")
    for code in geocodes:
        capxml.pair(area, "geocode", "ADCODE", code["adcode"])
    capxml.pair(area, "geocode", ORIGIN_GEOCODE, f"{event.origin_level}:{event.origin_adcode}")
    document = capxml.serialise(root)
    problems = capxml.validate(document)
    if problems:  # a bug of ours, never the user's: refuse to hand out an alert that does not validate
        raise RuntimeError(f"exported CAP alert does not validate: {problems}")
    return document


async def _origin_name(session: AsyncSession, holder: IndexHolder, event: RiskEvent) -> str:
    index = await geography_service.current_index(session=session, holder=holder)
    entry = index.get(Level(event.origin_level), event.origin_adcode)
    return entry.name if entry else event.origin_adcode


async def export_alert(
    *, session: AsyncSession, principal: Principal, holder: IndexHolder, event_id: int, base_url: str
) -> bytes:
    """The CAP 1.2 alert of one version of a report, for those who may read it."""
    event = await events_service.get_event(session, event_id)
    await events_service.require_may(session, principal, Action.read, event)
    return await _alert_of(session, holder, event, base_url)


async def _alert_of(session: AsyncSession, holder: IndexHolder, event: RiskEvent, base_url: str) -> bytes:
    chain = await events_service.versions(session, event)
    earlier = [version for version in chain if version.version < event.version]
    return build_alert(
        event,
        earlier=earlier,
        origin_name=await _origin_name(session, holder, event),
        web=f"{base_url.rstrip('/')}/risk/events/{event.id}",
    )


async def public_alert(*, session: AsyncSession, holder: IndexHolder, event_id: int, base_url: str) -> bytes:
    """The alert of an active public report, for anyone (feeds link here); anything else is not found."""
    event = await events_service.get_event(session, event_id)
    if event.scope != Scope.public or event.status != Status.active:
        raise errors.NotPublic(event_id=event_id)
    return await _alert_of(session, holder, event, base_url)


# --- Atom feeds ----------------------------------------------------------------------------------------


def _touches(event: RiskEvent, prefixes: Sequence[str], boundaries: Sequence[shapely.Geometry]) -> bool:
    if any(event.origin_adcode.startswith(prefix) for prefix in prefixes):
        return True
    if not boundaries:
        return False
    shape = area_builder.as_shape(event.geometry)
    return any(shape.intersects(boundary) for boundary in boundaries)


def build_feed(
    *, events: Sequence[RiskEvent], feed_url: str, title: str, base_url: str, now: datetime
) -> bytes:
    """An Atom feed (RFC 4287) whose entries link to each report's CAP alert, as CAP aggregators read."""
    base = base_url.rstrip("/")
    q = "{" + capxml.ATOM_NS + "}"
    feed = etree.Element(q + "feed", nsmap={None: capxml.ATOM_NS})

    def sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
        node = etree.SubElement(parent, q + name, attributes)
        if text is not None:
            node.text = text
        return node

    sub(feed, "id", feed_url)
    sub(feed, "title", title)
    updated = max((e.reported_at for e in events), default=now)
    sub(feed, "updated", capxml.cap_time(events_service.local(updated)))
    author = sub(feed, "author")
    sub(author, "name", "Regio")
    sub(feed, "link", rel="self", href=feed_url, type="application/atom+xml")
    for event in events:
        alert_url = f"{base}/feeds/risk/events/{event.id}.cap"
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:cap:{event.sender}:{event.identifier}")
        sub(entry, "title", event.headline)
        sub(entry, "updated", capxml.cap_time(events_service.local(event.reported_at)))
        sub(entry, "published", capxml.cap_time(events_service.local(event.reported_at)))
        sub(entry, "summary", event.description or event.headline)
        sub(entry, "category", term=event.event_type, label=EVENT_TYPES[event.event_type].name_zh)
        sub(entry, "link", rel="alternate", type="application/cap+xml", href=alert_url)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))


async def _public_active(session: AsyncSession) -> list[RiskEvent]:
    return await events_service.list_active(session, scope=Scope.public, limit=FEED_LIMIT)


async def jurisdiction_feed(
    *, session: AsyncSession, holder: IndexHolder, level: Level, adcode: str, base_url: str
) -> bytes:
    """Active public reports that come from, or reach into, one jurisdiction."""
    index = await geography_service.current_index(session=session, holder=holder)
    entry = index.get(level, adcode)
    if entry is None:
        raise errors.NotPublic(adcode=adcode)
    boundary = index.geometry(level, adcode)
    events = [
        e
        for e in await _public_active(session)
        if _touches(e, [events_service.prefix_of(adcode)], [boundary] if boundary is not None else [])
    ]
    base = base_url.rstrip("/")
    return build_feed(
        events=events,
        feed_url=f"{base}/feeds/risk/jurisdictions/{level.value}/{adcode}.atom",
        title=f"{entry.name} 突发事件预警信息",
        base_url=base_url,
        now=utcnow(),
    )


async def body_feed(*, session: AsyncSession, holder: IndexHolder, slug: str, base_url: str) -> bytes:
    """Active public reports that come from, or reach into, a coordination body's members."""
    body = await geography_service.get_body(session=session, principal=geography_service.SYSTEM, slug=slug)
    index = await geography_service.current_index(session=session, holder=holder)
    prefixes = [events_service.prefix_of(member.adcode) for member in body.members]
    boundaries = [
        geometry
        for member in body.members
        if (geometry := index.geometry(Level(member.level), member.adcode)) is not None
    ]
    events = [e for e in await _public_active(session) if _touches(e, prefixes, boundaries)]
    base = base_url.rstrip("/")
    return build_feed(
        events=events,
        feed_url=f"{base}/feeds/risk/bodies/{slug}.atom",
        title=f"{body.name} 突发事件预警信息",
        base_url=base_url,
        now=utcnow(),
    )
