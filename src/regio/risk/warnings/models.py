"""Tables of warnings."""

from __future__ import annotations
