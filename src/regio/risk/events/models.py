"""Tables of events."""

from __future__ import annotations
