"""Tables of triage."""

from __future__ import annotations
