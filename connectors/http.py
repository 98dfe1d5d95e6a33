"""The one HTTP layer every connector uses: timeouts, retries, rate limits, a request budget."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from connectors.errors import (
    AuthenticationError,
    BudgetExhausted,
    ConnectorError,
    RateLimited,
    RetriesExhausted,
    TransientError,
    VendorHttpError,
)

log = logging.getLogger(__name__)

SECRET_PARAMS = frozenset({"api_key", "apikey", "token", "access_token", "key", "secret"})
USER_AGENT = "sentiment-service-connectors/0.1"


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, retry and rate-limit behaviour, and the request budget of one sync."""

    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # also the write and connection-pool timeouts
    total_timeout: float = 120.0  # one whole request, first byte sent to last byte read
    max_response_bytes: int = 64 * 1024 * 1024
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    max_rate_limit_wait: float = 900.0
    max_requests: int | None = None


@dataclass
class HttpStats:
    """What the HTTP layer did during one sync."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0


class RedactUrls(logging.Filter):
    """Hides user info and secret query values in URLs that httpx itself logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite URL arguments; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


def _redact_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(existing, RedactUrls) for existing in logger.filters):
        logger.addFilter(RedactUrls())


def build_client(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    policy: HttpPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for one vendor with explicit timeouts and no redirects."""
    policy = policy or HttpPolicy()
    _redact_httpx_logs()
    timeout = httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout)
    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        auth=auth,
        timeout=timeout,
        transport=transport,
        follow_redirects=False,
    )


class ResponseTooLarge(httpx.HTTPError):
    """The response body grew past the limit the caller set."""


def send_within(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    deadline_seconds: float,
    max_bytes: int,
    truncate: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request and read its body, giving up after `deadline_seconds` in all.

    The client's own timeouts bound each wait (to connect, for the next bytes), not the whole
    call: a server that trickles a byte just before each read timeout would hold the caller
    forever. This checks the deadline after every chunk of the body (so it overshoots by at
    most one read timeout) and raises httpx.ReadTimeout. A body larger than `max_bytes` raises
    ResponseTooLarge, or with `truncate` is cut there (for callers that only glance at it).
    The returned response is fully read.
    """
    started = time.monotonic()
    with client.stream(method, url, **kwargs) as response:
        size = 0
        chunks: list[bytes] = []
        for chunk in response.iter_bytes():  # decoded (gzip, brotli, ...)
            size += len(chunk)
            if size > max_bytes:
                if not truncate:
                    raise ResponseTooLarge(f"response body is larger than {max_bytes} bytes")
                chunks.append(chunk[: max_bytes - size])
                break
            chunks.append(chunk)
            if time.monotonic() - started > deadline_seconds:
                raise httpx.ReadTimeout(
                    f"no complete response within {deadline_seconds:g} s",
                    request=response.request,
                )
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length")  # body is decoded
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=response.request,
        )


def redact_url(url: str | httpx.URL) -> str:
    """`url` without user info and with secret-looking query values hidden."""
    parts = urlsplit(str(url))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [
        (key, "***" if key.lower() in SECRET_PARAMS else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """How long the vendor asks us to wait, from Retry-After or rate-limit reset headers."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError, IndexError):
                pass
    for name in ("ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"):
        reset = headers.get(name)
        if reset:
            try:
                number = float(reset.strip())
            except ValueError:
                continue
            # Epoch seconds (Intercom, X) or seconds from now (IETF draft, Zendesk).
            return max(0.0, number - now) if number > 1_000_000_000 else max(0.0, number)
    return None


def _quota_spent(headers: Mapping[str, str]) -> bool:
    for name in ("ratelimit-remaining", "x-ratelimit-remaining", "x-rate-limit-remaining"):
        value = headers.get(name)
        if value is not None and value.strip() in ("0", "0.0"):
            return True
    return False


class VendorHttp:
    """GETs/POSTs JSON from one vendor with retries, backoff, rate limits and a budget.

    Safe to share between threads (a connector's bounded fetch pool): the budget and the
    counters are kept under a lock, and when one request is told to wait (429, or a spent
    quota) the other threads hold back until it has waited and succeeded, instead of
    running into the same limit."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        policy: HttpPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.policy = policy or HttpPolicy()
        self.sleep = sleep
        self.wallclock = wallclock
        self.stats = HttpStats()
        self.last_headers: httpx.Headers = httpx.Headers()
        self._pause = 0.0
        self._lock = threading.Lock()
        self._hold: tuple[int, float] | None = None  # (thread that waits, monotonic end)

    def get_json(
        self, url: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False
    ) -> Any:
        """The decoded JSON body of GET `url` (None for a 404 when `missing_ok`)."""
        return self.request_json("GET", url, params=params, missing_ok=missing_ok)

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        missing_ok: bool = False,
    ) -> Any:
        """The decoded JSON body of one request, retried on transient failures."""
        self._check_origin(url)
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(method, url, params, body, missing_ok)
        except TransientError as error:
            raise RetriesExhausted(
                f"{method} {redact_url(url)} failed {self.policy.max_attempts} times: {error}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_origin(self, url: str) -> None:
        target = httpx.URL(url)
        if target.is_absolute_url and target.host != self.client.base_url.host:
            raise ConnectorError(f"refusing to send credentials to another host: {target.host}")

    def _attempt(
        self, method: str, url: str, params: Mapping[str, Any] | None, body: Any, missing_ok: bool
    ) -> Any:
        self._reserve()
        where = f"{method} {redact_url(url)}"
        try:
            response = send_within(
                self.client,
                method,
                url,
                deadline_seconds=self.policy.total_timeout,
                max_bytes=self.policy.max_response_bytes,
                params=params,
                json=body,
            )
        except httpx.TimeoutException as error:
            raise TransientError(f"{where}: timed out ({type(error).__name__})") from None
        except ResponseTooLarge as error:  # asking again would not make it smaller
            raise ConnectorError(f"{where}: {error}") from None
        except httpx.TransportError as error:
            raise TransientError(f"{where}: {type(error).__name__}") from None
        where = f"{method} {redact_url(response.request.url)}"
        log.debug("http %s -> %s", where, response.status_code)
        status = response.status_code
        if status in (401, 403):
            raise AuthenticationError(f"{where} -> {status}: check the connector's credentials")
        if status == 429:
            delay = retry_after_seconds(response.headers, self.wallclock())
            with self._lock:
                self.stats.rate_limited += 1
                if delay:
                    self._hold_others(min(delay, self.policy.max_rate_limit_wait))
            raise RateLimited(f"{where} -> 429 rate limited", delay)
        if status >= 500 or status == 408:
            raise TransientError(f"{where} -> {status}")
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise VendorHttpError(f"{where} -> {status}: {response.text[:200]}", status)
        self.last_headers = response.headers
        with self._lock:
            if self._hold is not None and self._hold[0] == threading.get_ident():
                self._hold = None  # this thread waited out the limit: the others may go on
            if _quota_spent(response.headers):
                self._pause = min(
                    retry_after_seconds(response.headers, self.wallclock()) or 0.0,
                    self.policy.max_rate_limit_wait,
                )
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TransientError(f"{where}: invalid or truncated JSON") from None

    def _reserve(self) -> None:
        """Take one request from the budget, after any wait the vendor asked for."""
        budget = self.policy.max_requests
        with self._lock:
            if budget is not None and self.stats.requests >= budget:
                raise BudgetExhausted(f"request budget of {budget} requests per sync is spent")
            pause, self._pause = self._pause, 0.0
            if pause > 0:
                self._hold_others(pause)
            hold = self._hold
            self.stats.requests += 1
        if pause > 0:
            self.sleep(pause)
        elif hold is not None and hold[0] != threading.get_ident():
            remaining = hold[1] - time.monotonic()
            if remaining > 0:
                self.sleep(remaining)

    def _hold_others(self, seconds: float) -> None:
        """Other threads wait `seconds` (or until this one succeeds); call under the lock."""
        self._hold = (threading.get_ident(), time.monotonic() + seconds)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.delay is not None:
            return min(error.delay, self.policy.max_rate_limit_wait)
        jitter = wait_random_exponential(
            multiplier=self.policy.backoff_base, max=self.policy.backoff_max
        )
        return float(jitter(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        with self._lock:
            self.stats.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.info("retrying after %s (attempt %d)", error, state.attempt_number)
