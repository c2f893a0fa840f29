"""Tables of cap."""

from __future__ import annotations
