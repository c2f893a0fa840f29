"""Whatever bytes arrive, reading an alert ends in a refusal with a code, never in a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regio.core.errors import DomainError
from regio.risk.cap import service
from regio.risk.cap import xml as capxml
from regio.risk.geography import hazards
from tests.risk.cap.test_import import sample

SAMPLES = [
    sample(name) for name in ("rainstorm_polygon.xml", "chemical_leak_circle.xml", "typhoon_geocode.xml")
]


def read_everything(raw: bytes) -> None:
    """The request-independent part of an import: parse, check, and map every field."""
    alert = capxml.read(capxml.parse(raw, max_bytes=1024 * 1024))
    info = service._chosen_info(alert)
    service._event_type(info)
    service._scale(info)
    area = service._area(info)
    for polygon in area.cap_polygons:
        hazards.from_cap_polygon(polygon)
    for circle in area.circles:
        assert hazards.from_circle(circle.model_dump()).geometry is not None
    for value in (info.onset, info.effective, info.expires, alert.sent):
        if value:
            capxml.parse_time(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(SAMPLES) - 1),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), st.binary(max_size=8)), max_size=4),
)
def test_a_mangled_alert_is_refused_with_a_code_or_read(
    which: int, edits: list[tuple[float, int, bytes]]
) -> None:
    raw = bytearray(SAMPLES[which])
    for where, cut, insert in edits:
        at = int(where * len(raw))
        raw[at : at + cut] = insert
    try:
        read_everything(bytes(raw))
    except DomainError as error:
        assert 400 <= error.status < 500 and error.code


@settings(max_examples=200, deadline=None)
@given(
    severity=st.sampled_from(["Extreme", "Severe", "Moderate", "Minor", "Unknown"]),
    circle=st.text(alphabet="0123456789.,- e", max_size=30),
    polygon=st.text(alphabet="0123456789.,- ", max_size=60),
    level=st.text(alphabet="0123456789-x", max_size=3),
)
def test_odd_field_values_are_refused_with_a_code(
    severity: str, circle: str, polygon: str, level: str
) -> None:
    raw = (
        sample("chemical_leak_circle.xml")
        .replace(b"<severity>Severe</severity>", f"<severity>{severity}</severity>".encode())
        .replace(
            b"<circle>30.30,120.55 5</circle>",
            f"<circle>{circle}</circle><polygon>{polygon}</polygon>".encode(),
        )
        .replace(b"<value>3</value>", f"<value>{level}</value>".encode())
    )
    try:
        read_everything(raw)
    except DomainError as error:
        assert 400 <= error.status < 500 and error.code
