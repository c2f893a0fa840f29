"""One way to turn what services hand over (times, enums, decimals, ids, sets) into plain JSON data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def json_default(value: Any) -> Any:
    """For `json.dumps(default=...)`: the types services use; anything else is refused with TypeError.

    Aware times are written in UTC, so one instant always serialises (and hashes) the same way.
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    raise TypeError(f"not JSON data: {type(value).__name__}")


def lenient_json_default(value: Any) -> Any:
    """Like json_default, but anything else becomes its text: an audit entry must never sink its change."""
    try:
        return json_default(value)
    except TypeError:
        return str(value)
