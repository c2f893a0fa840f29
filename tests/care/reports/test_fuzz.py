"""Whatever a hospital's system sends, a push ends in a stored report or an itemised refusal, never a
crash: the reader is fuzzed directly, and through HTTP on both databases."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from regio.app import create_app
from regio.care.reports import fhir
from regio.care.reports.enums import ReportKind
from regio.config import Settings
from regio.core.db import Database, utcnow
from tests.care.booking.conftest import build_world
from tests.care.records.conftest import consultation_for, patient_for
from tests.care.reports.conftest import hospital_system, imaging_body, lab_body, stored_counts
from tests.conftest import _empty_tables

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(body: dict[str, Any], edits: list[tuple[int, Any, bool]]) -> Any:
    """Replaces (or deletes) a few subtrees of a valid body."""
    document: Any = json.loads(json.dumps(body))
    for choice, value, delete in edits:
        spots = paths(document)
        where = spots[choice % len(spots)]
        if not where:
            document = value
            continue
        parent: Any = document
        for step in where[:-1]:
            parent = parent[step]
        if delete and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = value
    return document


edits = st.lists(st.tuples(st.integers(0, 10_000), json_values, st.booleans()), min_size=1, max_size=3)


@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=edits, imaging=st.booleans())
def test_the_reader_returns_facts_or_problems_for_any_mangled_report(
    edits: list[tuple[int, Any, bool]], imaging: bool
) -> None:
    base = imaging_body(7) if imaging else lab_body(7)
    raw = json.dumps(mutate(base, edits), allow_nan=True).encode()
    facts, problems = fhir.read_report(
        raw, kind=ReportKind.imaging if imaging else ReportKind.lab, now=utcnow()
    )
    assert (facts is None) == bool(problems)
    for item in problems:
        assert item.code in fhir.MESSAGES and item.message_zh and item.message_en
        assert item.path == "" or item.path.startswith("/")
    if facts is not None:
        assert len(facts.content_hash()) == 64


@hypothesis_settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200))
def test_the_reader_survives_any_bytes(raw: bytes) -> None:
    facts, problems = fhir.read_report(raw, kind=ReportKind.lab, now=utcnow())
    assert facts is None and problems


def test_pushes_over_http_never_answer_500_and_refusals_store_nothing(
    database_url: str, settings: Settings
) -> None:
    async def setup() -> tuple[int, dict[str, str]]:
        db = Database(database_url)
        try:
            world = await build_world(db)
            patient = await patient_for(db, settings)
            await consultation_for(db, world, patient, status="completed")
            app = create_app(settings=settings, database=db)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                return patient.patient_id, await hospital_system(http, db, world.hospital_id)
        finally:
            await db.dispose()

    patient_id, headers = asyncio.run(setup())

    async def one(document: Any, imaging: bool) -> None:
        db = Database(database_url)
        try:
            app = create_app(settings=settings, database=db)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                before = await stored_counts(db)
                response = await http.post(
                    "/api/care/reports/" + ("imaging" if imaging else "lab"),
                    content=json.dumps(document, allow_nan=True),
                    headers={**headers, "Content-Type": "application/json"},
                )
                assert response.status_code in (200, 201, 409, 422), response.text
                if response.status_code in (409, 422):
                    assert response.json()["error"]["code"] in (
                        "report_invalid",
                        "invalid_characters",
                        "report_identifier_mismatch",
                    )
                    assert await stored_counts(db) == before
        finally:
            await db.dispose()

    @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(edits=edits, imaging=st.booleans())
    def check(edits: list[tuple[int, Any, bool]], imaging: bool) -> None:
        base = imaging_body(patient_id) if imaging else lab_body(patient_id)
        asyncio.run(one(mutate(base, edits), imaging))

    try:
        check()
    finally:
        _empty_tables(database_url)
