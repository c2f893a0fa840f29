"""One JSON helper for every payload core writes: audit details and outbox messages read the same."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from uuid import UUID

import pytest

from regio.core import audit, outbox
from regio.core.jsonable import json_default, lenient_json_default


class Colour(Enum):
    red = "red"


SHANGHAI = timezone(timedelta(hours=8))


def test_an_aware_time_is_written_in_utc_whatever_zone_it_came_in() -> None:
    local = datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert json_default(local) == "2026-12-01T00:00:00+00:00"
    assert json_default(local) == json_default(local.astimezone(UTC))


def test_the_types_services_hand_over_become_plain_json() -> None:
    value = {
        "day": date(2026, 12, 1),
        "colour": Colour.red,
        "fee": Decimal("12.50"),
        "id": UUID(int=1),
        "tags": {"b", "a"},
        "pair": frozenset({2, 1}),
    }
    assert json.loads(json.dumps(value, default=json_default)) == {
        "day": "2026-12-01",
        "colour": "red",
        "fee": "12.50",
        "id": "00000000-0000-0000-0000-000000000001",
        "tags": ["a", "b"],
        "pair": [1, 2],
    }


def test_anything_else_is_refused_by_the_strict_helper_and_spelled_out_by_the_lenient_one() -> None:
    with pytest.raises(TypeError):
        json_default(object())
    assert lenient_json_default(Colour) == str(Colour)


def test_audit_and_outbox_share_the_one_helper() -> None:
    assert not hasattr(audit, "_json_default") and not hasattr(outbox, "_json_default")
    assert outbox.json_default is json_default
    assert audit.lenient_json_default is lenient_json_default


async def test_an_outbox_payload_and_an_audit_detail_serialise_one_instant_alike(db) -> None:
    from sqlalchemy import select

    from regio.core.access import SYSTEM

    moment = datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    async with db.sessionmaker() as session, session.begin():
        outbox.enqueue(session, "thing.happened", {"at": moment})
        await audit.record(
            session, SYSTEM, "thing.happen", object_type="thing", object_id=1, details={"at": moment}
        )
    async with db.sessionmaker() as session:
        payload = (await session.execute(select(outbox.OutboxMessage.payload))).scalar_one()
        details = (await session.execute(select(audit.AuditEntry.details))).scalar_one()
    assert payload == details == {"at": "2026-12-01T00:00:00+00:00"}
