"""Security headers on every dashboard response (pages, fragments, redirects, static files).

The JSON API and its interactive docs are left alone: `/docs` loads Swagger UI from a CDN,
which this policy would block.
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
PAGE_PREFIXES = ("/login", "/logout", "/accounts/", "/topics", "/scorecards")
STATIC_PREFIX = "/static/"


def is_dashboard_path(path: str) -> bool:
    """Whether `path` belongs to the dashboard rather than the JSON API."""
    return (
        path == "/"
        or path.startswith(STATIC_PREFIX)
        or any(path == p or path.startswith(p.rstrip("/") + "/") for p in PAGE_PREFIXES)
    )


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, referrer, framing and caching headers to dashboard responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_dashboard_path(path):
            await self.app(scope, receive, send)
            return
        private = not path.startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                for name, value in HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if private:  # pages show customer data: never keep them in shared caches
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
