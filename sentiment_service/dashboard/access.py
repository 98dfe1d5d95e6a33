"""What every dashboard page shares around its handler: the signed-in user (`User`), the
errors shown as pages (`LoginRequired`, `PageError`) and their handlers, the CSRF and
permission checks, and the form-field helpers."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from sentiment_service.api.deps import DatabaseDep
from sentiment_service.auth.permissions import Permission
from sentiment_service.dashboard.rendering import is_htmx, render
from sentiment_service.dashboard.sessions import (
    COOKIE_NAME,
    DashboardUser,
    SessionSigner,
    load_user,
)
from sentiment_service.errors import handled_as


class LoginRequired(Exception):
    """No valid session; `ended` when there was one (expired, revoked, forged)."""

    def __init__(self, *, ended: bool) -> None:
        super().__init__("login required")
        self.ended = ended


class PageError(Exception):
    """An error shown as an HTML page (or fragment for htmx)."""

    def __init__(
        self, status_code: int, title: str, detail: str, user: DashboardUser | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.title = title
        self.detail = detail
        self.user = user


def signer_of(request: Request) -> SessionSigner:
    """The app's session signer."""
    signer = request.app.state.dashboard_signer
    if not isinstance(signer, SessionSigner):
        raise RuntimeError("the dashboard is not set up: app.state has no session signer")
    return signer


def current_user(request: Request, database: DatabaseDep) -> DashboardUser:
    """The signed-in user; LoginRequired when there is no valid session."""
    signer = signer_of(request)
    raw = request.cookies.get(COOKIE_NAME)
    data = signer.verify(raw)
    if data is None:
        raise LoginRequired(ended=raw is not None)
    with database.session() as session:
        user = load_user(session, signer, data)
    if user is None:
        raise LoginRequired(ended=True)
    request.scope.setdefault("state", {})["key_id"] = user.principal.key_id
    return user


User = Annotated[DashboardUser, Depends(current_user)]
FormText = Annotated[str | None, Form()]


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\") or target.startswith(("/login", "/logout")):
        return "/"
    return target


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """Send the browser to the login page (htmx: a full-page redirect via HX-Redirect)."""
    required = handled_as(exc, LoginRequired)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if is_htmx(request):
        current = request.headers.get("HX-Current-URL", "")
        match = re.match(r"^https?://[^/]+(/[^#]*)", current)
        here = match.group(1) if match else "/"
    if request.method != "GET" and not is_htmx(request):
        here = "/"
    params = {"next": safe_next(here)}
    if required.ended:
        params["ended"] = "1"
    target = "/login?" + urlencode(params, quote_via=quote)
    if is_htmx(request):
        response: Response = Response(status_code=401, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if required.ended:
        response.delete_cookie(COOKIE_NAME, path="/")
    return response


async def page_error_handler(request: Request, exc: Exception) -> Response:
    """An error page, or an error fragment for htmx."""
    error = handled_as(exc, PageError)
    name = "_error.html" if is_htmx(request) else "error.html"
    response = render(
        request,
        name,
        {"title": error.title, "detail": error.detail},
        user=error.user,
        status_code=error.status_code,
    )
    if is_htmx(request):  # show it in the page's message area, leave the form in place
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def check_csrf(request: Request, user: DashboardUser, token: str | None) -> None:
    header = request.headers.get("X-CSRF-Token")
    if not signer_of(request).check_csrf(user.session, token or header):
        raise PageError(
            403,
            "Form expired",
            "The form's security token is missing or wrong. Reload the page and try again.",
            user,
        )


def require(user: DashboardUser, permission: Permission, what: str) -> None:
    if not user.can(permission):
        raise PageError(
            403,
            "Not allowed",
            f"Your key's role ({user.role}) may not {what}; it needs the "
            f"'{permission}' permission.",
            user,
        )


def not_found(user: DashboardUser, what: str) -> PageError:
    return PageError(404, "Not found", f"{what} does not exist.", user)


def blank(value: str | None) -> str | None:
    """A form or query value stripped, None when empty."""
    return value.strip() or None if value is not None else None
