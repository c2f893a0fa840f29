"""The rules that keep the house standing, checked on the source and on the routes."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIWebSocketRoute, iter_route_contexts

from regio.app import create_app
from regio.config import Settings
from regio.core.deps import current_principal, public_route, websocket_principal
from regio.core.identity.csrf import verify_csrf_form

SRC = Path(__file__).resolve().parents[1] / "src" / "regio"

# Along the user's journey: a later subdomain may import an earlier one, never the reverse.
JOURNEYS = {
    "care": [
        "registry",
        "patients",
        "triage",
        "booking",
        "scales",
        "consultation",
        "records",
        "prescription",
        "payment",
        "reports",
    ],
    "risk": ["geography", "events", ("cap", "spillover"), "warnings", "resources"],
}


def _rank(app: str, subdomain: str) -> int | None:
    for position, step in enumerate(JOURNEYS[app]):
        if subdomain == step or (isinstance(step, tuple) and subdomain in step):
            return position
    return None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_core_knows_neither_application() -> None:
    offenders = [
        (str(path.relative_to(SRC)), name)
        for path in _python_files(SRC / "core")
        for name in _imports(path)
        if name.startswith(("regio.care", "regio.risk", "regio.web", "regio.app"))
    ]
    assert offenders == []


def test_care_and_risk_never_import_each_other() -> None:
    offenders = []
    for app, other in (("care", "risk"), ("risk", "care")):
        folder = SRC / app
        if not folder.exists():
            continue
        offenders += [
            (str(path.relative_to(SRC)), name)
            for path in _python_files(folder)
            for name in _imports(path)
            if name.startswith(f"regio.{other}")
        ]
    assert offenders == []


def test_subdomains_depend_one_way_along_the_journey() -> None:
    offenders = []
    for app in JOURNEYS:
        folder = SRC / app
        if not folder.exists():
            continue
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"):
            own = _rank(app, sub.name)
            assert own is not None, f"{app}/{sub.name} is not placed on the journey in this test"
            for path in _python_files(sub):
                for name in _imports(path):
                    parts = name.split(".")
                    if len(parts) >= 3 and parts[:2] == ["regio", app] and parts[2] != sub.name:
                        other = _rank(app, parts[2])
                        if other is not None and other >= own:
                            offenders.append((str(path.relative_to(SRC)), name))
    assert offenders == []


def _room_files(room: str) -> list[Path]:
    return [p for p in _python_files(SRC) if p.name == room]


def test_routes_never_touch_a_repository_or_commit() -> None:
    offenders = []
    for room in ("api.py", "pages.py"):
        for path in _room_files(room):
            source = path.read_text(encoding="utf-8")
            if ".commit(" in source or ".begin(" in source:
                offenders.append((str(path.relative_to(SRC)), "commits"))
            offenders += [
                (str(path.relative_to(SRC)), name) for name in _imports(path) if name.endswith(".repository")
            ]
    assert offenders == []


def test_services_never_import_fastapi_and_repositories_never_commit() -> None:
    offenders = []
    for path in _room_files("service.py"):
        offenders += [
            (str(path.relative_to(SRC)), name)
            for name in _imports(path)
            if name.startswith(("fastapi", "starlette"))
        ]
    for path in _room_files("repository.py"):
        if ".commit(" in path.read_text(encoding="utf-8"):
            offenders.append((str(path.relative_to(SRC)), "commit"))
    assert offenders == []


def test_policies_are_pure() -> None:
    offenders = []
    for path in _room_files("policies.py"):
        for name in _imports(path):
            if name.startswith(("sqlalchemy", "httpx", "fastapi")) or name.endswith(
                (".repository", ".service")
            ):
                offenders.append((str(path.relative_to(SRC)), name))
        if "await " in path.read_text(encoding="utf-8"):
            offenders.append((str(path.relative_to(SRC)), "await"))
    assert offenders == []


def _dependency_calls(dependant) -> set[object]:  # type: ignore[no-untyped-def]
    calls = {dependant.call}
    for sub in dependant.dependencies:
        calls |= _dependency_calls(sub)
    return calls


@pytest.fixture(scope="module")
def routes() -> list[Any]:
    """Every API and WebSocket route as served, with the dependencies its routers add."""
    app = create_app(Settings(environment="test", run_background=False))
    return [context for context in iter_route_contexts(app.routes) if hasattr(context, "dependant")]


def test_every_route_is_authenticated_unless_it_opts_out(routes: list[Any]) -> None:
    # A WebSocket cannot carry a bearer header or a CSRF token: its own principal dependency
    # (token subprotocol, or cookie with an Origin check) counts there, and only there.
    def accepted(route: Any) -> set[object]:
        if isinstance(route.original_route, APIWebSocketRoute):
            return {current_principal, public_route, websocket_principal}
        return {current_principal, public_route}

    undecided = [route.path for route in routes if not (accepted(route) & _dependency_calls(route.dependant))]
    assert undecided == []


def test_the_route_listing_sees_included_routers(routes: list[Any]) -> None:
    assert any(route.path == "/healthz" for route in routes)


UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_page_form_handler_checks_the_csrf_token(routes: list[Any]) -> None:
    # Pages are protected by default: any unsafe route outside /api/ (which checks the header
    # for cookie sessions itself) must depend on CsrfForm, in every router the app includes.
    unchecked = [
        (sorted(route.methods & UNSAFE_METHODS), route.path)
        for route in routes
        if (getattr(route, "methods", None) or set()) & UNSAFE_METHODS
        and not route.path.startswith("/api/")
        and verify_csrf_form not in _dependency_calls(route.dependant)
    ]
    assert unchecked == []


def test_the_csrf_check_sees_the_page_form_routes(routes: list[Any]) -> None:
    checked = {
        route.path
        for route in routes
        if (getattr(route, "methods", None) or set()) & UNSAFE_METHODS
        and verify_csrf_form in _dependency_calls(route.dependant)
    }
    assert {"/login", "/logout", "/signup"} <= checked
