"""Tables of spillover."""

from __future__ import annotations
