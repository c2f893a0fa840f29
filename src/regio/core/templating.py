"""Jinja2 pages: one environment, the shell template, and the helpers every page needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from regio.core.i18n import is_zh

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _t(language: str) -> Any:
    def translate(zh: str, en: str) -> str:
        return zh if is_zh(language) else en

    return translate


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Renders a page with the language, the principal and a CSRF token already in scope."""
    language: str = getattr(request.state, "language", "zh-CN")
    principal = getattr(request.state, "principal", None)
    base: dict[str, Any] = {
        "request": request,
        "lang": language,
        "t": _t(language),
        "principal": principal,
        "csrf_token": getattr(request.state, "csrf_token", ""),
    }
    base.update(context or {})
    return templates.TemplateResponse(request, name, base, status_code=status_code)
