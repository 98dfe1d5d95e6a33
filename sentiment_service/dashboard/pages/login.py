"""Signing in with an API key and signing out (the session cookie, see `sessions`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from sentiment_service.api.deps import DatabaseDep
from sentiment_service.auth.keys import KEY_PATTERN, authenticate_request
from sentiment_service.auth.permissions import Permission, allows
from sentiment_service.dashboard.access import (
    FormText,
    LoginRequired,
    PageError,
    User,
    check_csrf,
    current_user,
    safe_next,
    signer_of,
)
from sentiment_service.dashboard.rendering import render
from sentiment_service.dashboard.sessions import COOKIE_NAME, end_session, open_session

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(
    request: Request,
    database: DatabaseDep,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    ended: Annotated[str | None, Query(max_length=8)] = None,
    logged_out: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """The login form (signed-in users go straight on)."""
    try:
        current_user(request, database)
    except LoginRequired:
        pass
    else:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = None
    if ended:
        notice = "Your session ended. Please sign in again."
    elif logged_out:
        notice = "You are signed out."
    return render(
        request,
        "login.html",
        {"next": safe_next(next), "error": None, "notice": notice},
        user=None,
    )


def _same_origin_form(request: Request) -> bool:
    """Whether a form post comes from the dashboard's own pages, as far as the browser says:
    `Sec-Fetch-Site` must not be cross-site and `Origin`, when sent (browsers send it with
    every POST), must name this service's host and port (the scheme is not compared: a proxy
    may end TLS). Clients that send neither (curl, scripts) are not browsers that another
    site could drive."""
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin.lower().partition("://")[2] == request.url.netloc.lower()


@router.post("/login")
def login(
    request: Request,
    database: DatabaseDep,
    api_key: FormText = None,
    next: FormText = None,
) -> Response:
    """Check the API key and start a session."""
    if not _same_origin_form(request):  # login CSRF: a foreign site posting its own key
        raise PageError(403, "Not allowed", "Sign in from the dashboard's own login page.")
    key = (api_key or "").strip()
    principal = None
    if key:
        principal = authenticate_request(database, key)
    error, status = None, 200
    if principal is None:
        error, status = "That API key is unknown, mistyped or revoked.", 401
    elif not allows(principal.role, Permission.READ):
        error = f"Keys with the '{principal.role}' role cannot use the dashboard."
        status = 403
    if error is not None or principal is None:
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "error": error, "notice": None},
            user=None,
            status_code=status,
        )
    match = KEY_PATTERN.match(key)
    if match is None:  # authenticate() accepted the key, so it has the key format
        raise RuntimeError("an accepted API key does not have the key format")
    signer = signer_of(request)
    value, lifetime = signer.issue(principal.key_id, match.group(1))
    data = signer.verify(value)
    if data is None:
        raise RuntimeError("the session signer rejected the session it has just issued")
    with database.session() as session:
        open_session(session, data)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=lifetime,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/logout")
def logout_page(request: Request, user: User) -> Response:
    """A page with the sign-out button (signing out changes state, so it is a POST)."""
    return render(request, "logout.html", {}, user=user)


@router.post("/logout")
def logout(request: Request, database: DatabaseDep, csrf_token: FormText = None) -> Response:
    """End the session: the cookie is deleted (an invalid session just goes to the login)."""
    try:
        user = current_user(request, database)
    except LoginRequired:
        user = None
    if user is not None:
        check_csrf(request, user, csrf_token)
        with database.session() as session:
            end_session(session, user.session)
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
