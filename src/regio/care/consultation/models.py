"""Tables of consultation."""

from __future__ import annotations
