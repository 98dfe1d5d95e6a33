"""Rate limits per API key (anonymous callers: per client IP), as ASGI middleware.

The limiter is a sliding-window counter: a request is admitted when
`previous window's count x (1 - elapsed share of the current window) + current count + 1`
stays within the limit, so a burst at a window boundary cannot double the rate the way a plain
fixed window allows, and rejected requests are not counted. Counts live in this process, or,
with `SENTIMENT_SERVICE_REDIS_URL` set, in Redis (one atomic Lua script per request) so that
every worker process shares them; if Redis fails, the in-process counts stand in and Redis is
tried again a few seconds later.

Callers are told apart by their verified key id: the middleware runs before authentication,
so it remembers (by a SHA-256 of the whole key string) which key id each key that once
authenticated belongs to. A key's first request in a process, and every request with a key
that never authenticated, counts against the client IP; that first request is charged to the
key too once the key proves valid. Garbage or guessed keys therefore cannot open fresh
buckets, and nobody can spend another key's budget by sending its public prefix.

Responses carry `RateLimit-Limit` and `RateLimit-Remaining`; over the limit the answer is a
429 problem document with `Retry-After`. /healthz, /readyz and /metrics are never limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit
from weakref import WeakKeyDictionary

import structlog
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment_service.api.problems import send_problem
from sentiment_service.settings import Settings

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60.0
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
DEFAULT_REDIS_PREFIX = "sentiment-service:ratelimit:"
EPSILON = 1e-9
REDIS_RETRY_SECONDS = 5.0  # how long the in-process counts stand in after a Redis failure


class RateLimitSettings(BaseSettings):
    """The limiter's optional Redis settings (same prefix and .env file as Settings)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTIMENT_SERVICE_", env_file=".env", extra="ignore"
    )

    redis_url: str | None = Field(
        None, description="redis:// or rediss:// URL to share rate-limit counts; empty: local."
    )
    rate_limit_redis_prefix: str = Field(
        DEFAULT_REDIS_PREFIX, min_length=1, max_length=128, description="Redis key prefix."
    )


# --- the sliding window (pure) ------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Whether a request may pass, and what the headers say."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds; 0 when allowed


def window_position(now: float, window: float) -> tuple[int, float]:
    """The index of the window holding `now` and the share of it that has elapsed."""
    index = math.floor(now / window)
    return index, (now - index * window) / window


def admits(limit: int, current: int, previous: int, elapsed: float) -> bool:
    """Whether one more request fits: previous x (1 - elapsed) + current + 1 <= limit."""
    return previous * (1.0 - elapsed) + current + 1 <= limit + EPSILON


def seconds_until_admitted(
    limit: int, window: float, current: int, previous: int, elapsed: float
) -> float:
    """How long until `admits` holds again, if no other request is counted meanwhile."""
    if current + 1 <= limit and previous > 0:  # the previous window's weight has to fade
        needed = 1.0 - (limit - current - 1) / previous
        return max(0.0, needed - elapsed) * window
    # Wait for the next window, where this window's count is the fading previous one.
    needed = max(0.0, 1.0 - (limit - 1) / current) if current > 0 else 0.0
    return (1.0 - elapsed + needed) * window


def decide(
    limit: int, window: float, elapsed: float, allowed: bool, current: int, previous: int
) -> Decision:
    """The decision for a request; `current` counts it when it was allowed."""
    if allowed:
        used = previous * (1.0 - elapsed) + current
        return Decision(True, limit, max(0, math.floor(limit - used + EPSILON)), 0)
    wait = seconds_until_admitted(limit, window, current, previous, elapsed)
    return Decision(False, limit, 0, max(1, math.ceil(wait)))


class Limiter(Protocol):
    """Counts requests per identity."""

    async def hit(self, identity: str, *, force: bool = False) -> Decision:
        """Count one request unless it is over the limit (`force`: count it regardless)."""
        ...


class MemoryLimiter:
    """Sliding-window counts in this process."""

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        max_identities: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_identities = max_identities
        self._counts: dict[str, tuple[int, int, int]] = {}  # identity -> (index, cur, prev)
        self._lock = threading.Lock()

    async def hit(self, identity: str, *, force: bool = False) -> Decision:
        """See `Limiter.hit`."""
        return self.hit_now(identity, force=force)

    def hit_now(self, identity: str, *, force: bool = False) -> Decision:
        """`hit` without the coroutine."""
        index, elapsed = window_position(self.clock(), self.window)
        with self._lock:
            known, current, previous = self._counts.get(identity, (index, 0, 0))
            if known != index:  # roll the windows forward
                previous = current if known == index - 1 else 0
                current = 0
            allowed = force or admits(self.limit, current, previous, elapsed)
            if allowed:
                current += 1
            self._counts[identity] = (index, current, previous)
            if len(self._counts) > self.max_identities:
                self._prune(index)
        return decide(self.limit, self.window, elapsed, allowed, current, previous)

    def _prune(self, index: int) -> None:
        for identity, (known, _, _) in list(self._counts.items()):
            if known < index - 1:
                del self._counts[identity]


# --- Redis -------------------------------------------------------------------------------------


class RedisReplyError(Exception):
    """An error reply from Redis."""


class _Connection:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def drop(self) -> None:
        """Close the socket without waiting (safe while a task is being cancelled)."""
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()

    async def close(self) -> None:
        writer = self.writer
        self.drop()
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()


def _encode(args: Sequence[str | int | float]) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


async def _read_reply(reader: asyncio.StreamReader) -> Any:
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("Redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisReplyError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else (await reader.readexactly(size + 2))[:-2]
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [await _read_reply(reader) for _ in range(size)]
    raise ConnectionError(f"unexpected reply from Redis: {line[:40]!r}")


class RedisClient:
    """A minimal asyncio Redis client (RESP2) for the commands the limiter sends: one
    connection per event loop, one command at a time, closed on any error."""

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"redis URL must start with redis:// or rediss://, got {url!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.tls = parts.scheme == "rediss"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"redis URL path must be a database number, got {parts.path!r}")
        self.db = int(path or 0)
        self.timeout = timeout
        self._connections: WeakKeyDictionary[asyncio.AbstractEventLoop, _Connection] = (
            WeakKeyDictionary()
        )

    def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = self._connections.get(loop)
        if connection is None:
            connection = self._connections[loop] = _Connection()
        return connection

    async def _open(self, connection: _Connection) -> None:
        context = ssl.create_default_context() if self.tls else None
        connection.reader, connection.writer = await asyncio.open_connection(
            self.host, self.port, ssl=context
        )
        if self.password is not None:
            auth = [self.username, self.password] if self.username else [self.password]
            await self._roundtrip(connection, ["AUTH", *auth])
        if self.db:
            await self._roundtrip(connection, ["SELECT", self.db])

    async def _roundtrip(self, connection: _Connection, args: Sequence[str | int | float]) -> Any:
        reader, writer = connection.reader, connection.writer
        if reader is None or writer is None:
            raise ConnectionError("the redis connection is not open")
        writer.write(_encode(args))
        await writer.drain()
        reply = await _read_reply(reader)
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def call(self, *args: str | int | float) -> Any:
        """Send one command and return its reply (raises RedisReplyError for error replies)."""
        connection = self._connection()
        async with connection.lock:
            try:
                async with asyncio.timeout(self.timeout):
                    if connection.writer is None:
                        await self._open(connection)
                    return await self._roundtrip(connection, args)
            except RedisReplyError as error:
                if str(error).startswith(("NOSCRIPT", "WRONGTYPE")):
                    raise  # the connection is fine
                connection.drop()
                raise
            except BaseException:  # timeouts, broken pipes, cancellation: start afresh
                connection.drop()
                raise

    async def close(self) -> None:
        """Close the connection of the running event loop."""
        connection = self._connections.pop(asyncio.get_running_loop(), None)
        if connection is not None:
            await connection.close()


# KEYS: current window, previous window. ARGV: limit, previous window's weight, ttl, force.
SLIDING_WINDOW_SCRIPT = """
local limit = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[4] ~= '1' and previous * weight + current + 1 > limit + 1e-9 then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {1, current, previous}
"""
SCRIPT_SHA = hashlib.sha1(SLIDING_WINDOW_SCRIPT.encode()).hexdigest()


class RedisLimiter:
    """Sliding-window counts in Redis, shared by every process; falls back to `fallback`
    (in-process counts) while Redis cannot be reached."""

    def __init__(
        self,
        client: RedisClient,
        limit: int,
        *,
        prefix: str = DEFAULT_REDIS_PREFIX,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        fallback: MemoryLimiter | None = None,
    ) -> None:
        self.client = client
        self.limit = limit
        self.prefix = prefix
        self.window = window
        self.clock = clock
        self.fallback = fallback or MemoryLimiter(limit, window=window, clock=clock)
        self.ttl = math.ceil(2 * window) + 1
        self._warned_at = 0.0
        self._down_until = 0.0  # after a failure, Redis is left alone for a few seconds

    async def hit(self, identity: str, *, force: bool = False) -> Decision:
        """See `Limiter.hit`."""
        if time.monotonic() < self._down_until:
            return self.fallback.hit_now(identity, force=force)
        index, elapsed = window_position(self.clock(), self.window)
        keys = [f"{self.prefix}{{{identity}}}:{index}", f"{self.prefix}{{{identity}}}:{index - 1}"]
        args: list[str | int] = [self.limit, repr(1.0 - elapsed), self.ttl, "1" if force else "0"]
        try:
            try:
                reply = await self.client.call("EVALSHA", SCRIPT_SHA, 2, *keys, *args)
            except RedisReplyError as error:
                if not str(error).startswith("NOSCRIPT"):
                    raise
                reply = await self.client.call("EVAL", SLIDING_WINDOW_SCRIPT, 2, *keys, *args)
            allowed, current, previous = (int(value) for value in reply)
        except (OSError, TimeoutError, ConnectionError, RedisReplyError, ValueError) as error:
            self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
            self._warn(error)
            return self.fallback.hit_now(identity, force=force)
        return decide(self.limit, self.window, elapsed, bool(allowed), current, previous)

    def _warn(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60 or not self._warned_at:
            self._warned_at = now
            log.warning(
                "rate_limit_redis_unavailable",
                error=f"{type(error).__name__}: {error}",
                fallback="in-process counts",
            )


# --- the middleware ----------------------------------------------------------------------------


class _VerifiedKeys:
    """Key-string digest -> key id for keys that authenticated (bounded, least recent out)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> int | None:
        with self._lock:
            key_id = self._ids.get(digest)
            if key_id is not None:
                self._ids.move_to_end(digest)
            return key_id

    def put(self, digest: str, key_id: int) -> None:
        with self._lock:
            self._ids[digest] = key_id
            self._ids.move_to_end(digest)
            while len(self._ids) > self.size:
                self._ids.popitem(last=False)

    def discard(self, digest: str) -> None:
        with self._lock:
            self._ids.pop(digest, None)


def _presented_key(headers: dict[bytes, bytes]) -> str | None:
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    if key:
        return key
    scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return (credentials.strip() or None) if scheme.lower() == "bearer" else None


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """Counts each request against its caller's budget; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        redis_url: str | None = None,
        redis_prefix: str = DEFAULT_REDIS_PREFIX,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        exempt: frozenset[str] = EXEMPT_PATHS,
    ) -> None:
        self.app = app
        self.limit = limit
        self.window = window
        self.exempt = exempt
        memory = MemoryLimiter(limit, window=window, clock=clock)
        self.redis: RedisClient | None = RedisClient(redis_url) if redis_url else None
        self.limiter: Limiter = (
            RedisLimiter(
                self.redis, limit, prefix=redis_prefix, window=window, clock=clock, fallback=memory
            )
            if self.redis is not None
            else memory
        )
        self.verified = _VerifiedKeys()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.redis is not None:
            await self.app(scope, self._closing_redis(receive), send)
            return
        if scope["type"] != "http" or self.limit <= 0 or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        key = _presented_key(dict(scope.get("headers") or []))
        digest = hashlib.sha256(key.encode()).hexdigest() if key else None
        known_id = self.verified.get(digest) if digest else None
        identity = f"key:{known_id}" if known_id is not None else f"ip:{_client_ip(scope)}"
        decision = await self.limiter.hit(identity)
        if not decision.allowed:
            if known_id is not None:  # the access log names the key
                scope.setdefault("state", {})["key_id"] = known_id
            await self._reject(scope, send, decision)
            return
        status = {"code": 0}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = message.setdefault("headers", [])
                headers.append((b"ratelimit-limit", str(decision.limit).encode()))
                headers.append((b"ratelimit-remaining", str(decision.remaining).encode()))
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if digest is None:
            return
        key_id = scope.get("state", {}).get("key_id")
        if key_id is not None and known_id is None:
            self.verified.put(digest, int(key_id))
            await self.limiter.hit(f"key:{key_id}", force=True)  # the key's own first request
        elif status["code"] == 401 and known_id is not None:
            self.verified.discard(digest)  # revoked since

    def _closing_redis(self, receive: Receive) -> Receive:
        async def receive_and_close() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self.redis is not None:
                await self.redis.close()
            return message

        return receive_and_close

    async def _reject(self, scope: Scope, send: Send, decision: Decision) -> None:
        detail = (
            f"rate limit of {decision.limit} requests per minute exceeded; "
            f"retry in {decision.retry_after} s"
        )
        headers = [
            (b"retry-after", str(decision.retry_after).encode()),
            (b"ratelimit-limit", str(decision.limit).encode()),
            (b"ratelimit-remaining", b"0"),
        ]
        await send_problem(scope, send, 429, "Too many requests", detail, headers)


def add_rate_limiting(app: FastAPI, settings: Settings) -> None:
    """Install the middleware with the settings' limit (0: none) and the optional Redis."""
    if settings.rate_limit_per_minute <= 0:
        return
    extra = RateLimitSettings()
    app.add_middleware(
        RateLimitMiddleware,
        limit=settings.rate_limit_per_minute,
        redis_url=getattr(settings, "redis_url", None) or extra.redis_url,
        redis_prefix=extra.rate_limit_redis_prefix,
    )
