"""JSON routes of consultation."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["consultation"])
