"""JSON routes of records."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["records"])
