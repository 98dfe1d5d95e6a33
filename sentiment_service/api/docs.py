"""Interactive API docs: Swagger UI from files vendored in the package (no CDN), under a CSP.

FastAPI's own `/docs` and `/redoc` load their scripts from a CDN, without subresource
integrity, on the dashboard's origin, and fail offline; they are turned off in the app
factory and replaced by this page. Its security headers are added by
`sentiment_service.dashboard.headers.SecurityHeadersMiddleware` (see `DOCS_CSP` there).
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_VERSION = "5.35.0"
STATIC_DIR = Path(__file__).resolve().parent / "static"
DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/static"


def docs_page(title: str, openapi_url: str) -> str:
    """The HTML of the docs page: external stylesheet and scripts only, no inline code."""
    assets = f"{ASSETS_PATH}/swagger-ui"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)} - API docs</title>"
        f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>"
        f"<link rel='stylesheet' href='{assets}/swagger-ui.css?v={SWAGGER_UI_VERSION}'>"
        f"</head><body data-openapi-url='{html.escape(openapi_url, quote=True)}'>"
        "<div id='swagger-ui'></div>"
        f"<script src='{assets}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}'></script>"
        f"<script src='{ASSETS_PATH}/docs-init.js?v={SWAGGER_UI_VERSION}'></script>"
        "</body></html>"
    )


def install_docs(app: FastAPI) -> None:
    """Serve the docs page at /docs and its assets under /docs/static/."""
    page = docs_page(app.title, app.openapi_url or "/openapi.json")
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="docs-static")

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)
