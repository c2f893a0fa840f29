"""JSON routes of warnings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["warnings"])
