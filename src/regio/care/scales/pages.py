"""HTML routes of scales."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["scales pages"])
