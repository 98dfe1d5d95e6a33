"""The web dashboard: server-rendered pages on top of the service layer (issue #10).

`install_dashboard(app)` adds the pages, the static files (own stylesheet and the vendored
htmx), the session signer, the error handlers and the security headers. The JSON API is left
as it is: the dashboard authenticates with a session cookie, the API with `X-API-Key`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sentiment_service.dashboard import model_page, pages
from sentiment_service.dashboard.access import (
    LoginRequired,
    PageError,
    login_required_handler,
    page_error_handler,
)
from sentiment_service.dashboard.headers import SecurityHeadersMiddleware
from sentiment_service.dashboard.sessions import SessionSigner
from sentiment_service.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Mount the dashboard on `app` (call before the app starts)."""
    app.state.dashboard_signer = SessionSigner.from_settings(settings)
    app.include_router(pages.router)
    app.include_router(model_page.router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(LoginRequired, login_required_handler)
    app.add_exception_handler(PageError, page_error_handler)
    app.add_middleware(SecurityHeadersMiddleware)


__all__ = ["install_dashboard"]
