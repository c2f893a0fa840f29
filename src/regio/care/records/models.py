"""Tables of records."""

from __future__ import annotations
