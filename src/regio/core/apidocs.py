"""The OpenAPI reference at /docs, served from a packaged Swagger UI: no CDN, works offline."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from regio.core.deps import Public

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse, dependencies=[Public])
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Regio API",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
    )


def mount_assets(app: FastAPI) -> None:
    """Serves Swagger UI's files from the installed package (mounted before /static)."""
    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
