"""Security headers on every dashboard response (pages, fragments, redirects, static files),
on the API docs (`/docs`, Swagger UI served from vendored files) and on every other HTML
document the API returns (evaluation reports, scorecard criteria).

JSON responses of the API are left alone. Each kind of page gets the same headers with its
own Content-Security-Policy: the dashboard's, the docs' (Swagger UI needs inline styles and
fetches /openapi.json), and for API documents one that allows no script at all.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PREFIX = "/docs"
PAGE_PREFIXES = ("/login", "/logout", "/accounts/", "/topics", "/scorecards", "/model")
STATIC_PREFIX = "/static/"


def is_dashboard_path(path: str) -> bool:
    """Whether `path` belongs to the dashboard rather than the JSON API."""
    return (
        path == "/"
        or path.startswith(STATIC_PREFIX)
        or any(path == p or path.startswith(p.rstrip("/") + "/") for p in PAGE_PREFIXES)
    )


def _policy(path: str, headers: list[tuple[bytes, bytes]]) -> str | None:
    """The CSP for a response, or None for responses left alone (the JSON API)."""
    if is_dashboard_path(path):
        return CONTENT_SECURITY_POLICY
    if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"):
        return DOCS_CSP
    content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
    return DOCUMENT_CSP if content_type.lower().startswith(b"text/html") else None


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, referrer, framing and caching headers to dashboard responses, the
    API docs and HTML documents of the API."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # pages and API documents show customer data; the docs and static files do not
        private = not path.startswith((STATIC_PREFIX, DOCS_PREFIX))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                policy = _policy(path, headers)
                if policy is None:
                    await send(message)
                    return
                present = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", policy.encode()))
                for name, value in HEADERS:
                    if name not in present and name != b"content-security-policy":
                        headers.append((name, value))
                if private:  # pages show customer data: never keep them in shared caches
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
