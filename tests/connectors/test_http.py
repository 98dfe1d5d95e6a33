"""The shared HTTP layer: Retry-After parsing, budget, redaction, origin check (httpx mocks)."""

from __future__ import annotations

import logging

import httpx
import pytest

from connectors.errors import (
    AuthenticationError,
    BudgetExhausted,
    ConnectorError,
    RetriesExhausted,
    VendorHttpError,
)
from connectors.http import HttpPolicy, VendorHttp, build_client, redact_url, retry_after_seconds

NOW = 1_790_000_000.0


def vendor(handler: object, sleeps: list[float], **policy: object) -> VendorHttp:
    """A VendorHttp over a MockTransport calling `handler`."""
    settings = HttpPolicy(backoff_base=0.01, **policy)  # type: ignore[arg-type]
    client = build_client(
        "https://vendor.example",
        headers={"Authorization": "Bearer top-secret"},
        policy=settings,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )
    return VendorHttp(client, policy=settings, sleep=sleeps.append, wallclock=lambda: NOW)


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ({"retry-after": "30"}, NOW, 30.0),
        ({"retry-after": "Thu, 01 Jan 2026 00:01:00 GMT"}, 1767225600.0, 60.0),
        ({"ratelimit-reset": "12"}, NOW, 12.0),
        ({"x-ratelimit-reset": str(int(NOW) + 40)}, NOW, 40.0),
        ({"x-rate-limit-reset": str(int(NOW) - 5)}, NOW, 0.0),
        ({"retry-after": "soon"}, NOW, None),
        ({}, NOW, None),
    ],
)
def test_retry_after_formats(headers: dict[str, str], now: float, expected: float | None) -> None:
    assert retry_after_seconds(headers, now) == expected


def test_retries_then_gives_up_with_a_redacted_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    http = vendor(lambda request: httpx.Response(503), sleeps, max_attempts=4)
    with pytest.raises(RetriesExhausted) as raised:
        http.get_json("/things", {"api_key": "k-123"})
    assert "k-123" not in str(raised.value) and "api_key=%2A%2A%2A" in str(raised.value)
    assert http.stats.requests == 4 and http.stats.retries == 3 and len(sleeps) == 3
    assert all(0 <= s <= 0.01 * 2**4 for s in sleeps)
    assert "top-secret" not in caplog.text and "k-123" not in caplog.text


def test_auth_errors_and_client_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    http = vendor(lambda request: httpx.Response(403), sleeps)
    with pytest.raises(AuthenticationError):
        http.get_json("/x")
    bad = vendor(lambda request: httpx.Response(422, json={"error": "bad"}), sleeps)
    with pytest.raises(VendorHttpError):
        bad.get_json("/x")
    assert sleeps == [] and http.stats.requests == 1
    missing = vendor(lambda request: httpx.Response(404), sleeps)
    assert missing.get_json("/x", missing_ok=True) is None


def test_budget_and_spent_quota_pause() -> None:
    sleeps: list[float] = []
    reply = httpx.Response(
        200,
        json={"ok": 1},
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1790000009"},
    )
    http = vendor(lambda request: reply, sleeps, max_requests=2)
    assert http.get_json("/a") == {"ok": 1}
    http.get_json("/b")
    assert sleeps == [9.0]  # waited for the window to reset before the second request
    with pytest.raises(BudgetExhausted):
        http.get_json("/c")


def test_refuses_to_follow_links_to_other_hosts() -> None:
    http = vendor(lambda request: httpx.Response(200, json={}), [])
    with pytest.raises(ConnectorError, match="another host"):
        http.get_json("https://evil.example/steal")
    assert redact_url("https://user:pw@h.example/p?token=abc&page=2") == (
        "https://h.example/p?token=%2A%2A%2A&page=2"
    )
