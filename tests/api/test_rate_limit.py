"""Rate limits per API key or client IP: the window maths, the middleware, the Redis store."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from sentiment_service.api.app import create_app
from sentiment_service.api.ratelimit import (
    MemoryLimiter,
    RedisClient,
    RedisLimiter,
    admits,
    decide,
    seconds_until_admitted,
)
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.conftest import auth, free_port

REDIS_URL = os.environ.get("SENTIMENT_SERVICE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    """A settable clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def _app(
    settings: Settings, database: Database, model_hub: ModelHub, limit: int
) -> Iterator[TestClient]:
    tuned = settings.model_copy(update={"rate_limit_per_minute": limit})
    with TestClient(create_app(tuned, database, model_hub)) as client:
        yield client


# --- the sliding window ------------------------------------------------------------------------


def test_window_maths() -> None:
    assert admits(3, current=2, previous=0, elapsed=0.5)
    assert not admits(3, current=3, previous=0, elapsed=0.9)
    assert not admits(10, current=5, previous=10, elapsed=0.5)  # 10 x 0.5 + 5 + 1 > 10
    assert admits(10, current=4, previous=10, elapsed=0.5)
    # Over the limit within the window: wait until the next window, then for the weight of
    # this window's requests to fade enough.
    assert seconds_until_admitted(3, 60, current=3, previous=0, elapsed=0.5) == pytest.approx(
        30 + 20
    )
    # Room in this window, but the previous window still weighs too much.
    assert seconds_until_admitted(10, 60, current=5, previous=10, elapsed=0.5) == pytest.approx(6)
    allowed = decide(10, 60, 0.5, True, current=4, previous=4)
    assert allowed.allowed and allowed.remaining == 4 and allowed.retry_after == 0
    refused = decide(3, 60, 0.5, False, current=3, previous=0)
    assert not refused.allowed and refused.remaining == 0 and refused.retry_after == 50


def test_memory_limiter_slides_and_does_not_count_refusals() -> None:
    clock = Clock(6000.0)  # the start of a window
    limiter = MemoryLimiter(3, clock=clock)
    results = [limiter.hit_now("key:1").allowed for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert limiter.hit_now("key:2").allowed  # another caller has its own budget
    clock.now += 60  # next window: the previous 3 still weigh fully
    assert not limiter.hit_now("key:1").allowed
    clock.now += 30  # half-way: 3 x 0.5 + 0 + 1 <= 3
    assert limiter.hit_now("key:1").allowed
    clock.now += 120  # two windows later nothing is left
    assert [limiter.hit_now("key:1").remaining for _ in range(3)] == [2, 1, 0]
    assert limiter.hit_now("key:1", force=True).allowed  # forced hits always count


# --- the middleware ------------------------------------------------------------------------------


def test_each_key_has_its_budget_with_headers_and_a_429_problem(
    settings: Settings, database: Database, model_hub: ModelHub, keys: dict[Role, str]
) -> None:
    with _app(settings, database, model_hub, limit=3) as client:
        viewer = auth(keys[Role.VIEWER])
        answers = [client.get("/v1/accounts", headers=viewer) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["ratelimit-limit"] == "3"
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        refused = answers[3]
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 120
        body = refused.json()
        assert body["status"] == 429 and body["title"] == "Too many requests"
        assert body["instance"] == "/v1/accounts" and body["request_id"]
        assert refused.headers["x-request-id"] == body["request_id"]
        # Another key, and the probes, are not affected.
        assert client.get("/v1/accounts", headers=auth(keys[Role.ANALYST])).status_code == 200
        for path in ("/healthz", "/readyz", "/metrics"):
            for _ in range(5):
                answer = client.get(path, headers=viewer)
                assert answer.status_code != 429 and "ratelimit-limit" not in answer.headers
        scrape = client.get("/metrics", headers=viewer).text
        refusals = [
            line
            for line in scrape.splitlines()
            if line.startswith("http_requests_total") and 'status="429"' in line
        ]
        assert len(refusals) == 1 and 'route="unmatched"' in refusals[0]  # never routed


def test_anonymous_and_bad_keys_count_against_the_client_ip(
    settings: Settings, database: Database, model_hub: ModelHub, keys: dict[Role, str]
) -> None:
    with _app(settings, database, model_hub, limit=3) as client:
        victim = keys[Role.VIEWER]
        prefix = victim.split("_")[1]
        guessed = auth(f"ssk_{prefix}_" + "B" * 43)  # the victim's public prefix, wrong secret
        statuses = [
            client.get("/v1/accounts").status_code,
            client.get("/v1/accounts", headers=auth("garbage")).status_code,
            client.get("/v1/accounts", headers=guessed).status_code,
            client.get("/v1/accounts", headers=guessed).status_code,
        ]
        assert statuses == [401, 401, 401, 429]
        assert client.get("/v1/accounts", headers={"Authorization": "Bearer x"}).status_code == 429
        # The victim's key was never charged; its first request counts once it proves valid.
        # (Its very first request is made from the same, exhausted, IP here, so use another
        # client address: a new app instance has fresh in-process counts.)
    with _app(settings, database, model_hub, limit=3) as client:
        viewer = auth(victim)
        assert [client.get("/v1/accounts", headers=viewer).status_code for _ in range(4)] == [
            200,
            200,
            200,
            429,
        ]


def test_a_revoked_key_is_forgotten(
    settings: Settings, database: Database, model_hub: ModelHub, keys: dict[Role, str]
) -> None:
    with _app(settings, database, model_hub, limit=100) as client:
        admin = auth(keys[Role.ADMIN])
        made = client.post("/v1/keys", json={"name": "temp", "role": "viewer"}, headers=admin)
        temp = auth(made.json()["key"])
        assert client.get("/v1/accounts", headers=temp).status_code == 200
        client.delete(f"/v1/keys/{made.json()['id']}", headers=admin)
        assert client.get("/v1/accounts", headers=temp).status_code == 401
        assert client.get("/v1/accounts", headers=temp).headers["ratelimit-remaining"] == "97"


def test_a_zero_limit_switches_limiting_off(
    settings: Settings, database: Database, model_hub: ModelHub, keys: dict[Role, str]
) -> None:
    with _app(settings, database, model_hub, limit=0) as client:
        answers = [client.get("/v1/accounts") for _ in range(5)]
        assert {a.status_code for a in answers} == {401}
        assert "ratelimit-limit" not in answers[0].headers


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test Redis (skipped when unreachable), with a key prefix of this test's own."""
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            pass
    except OSError as error:
        pytest.skip(
            f"Redis unreachable at {REDIS_URL} ({error}); set SENTIMENT_SERVICE_TEST_REDIS_URL"
        )
    monkeypatch.setenv("SENTIMENT_SERVICE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("SENTIMENT_SERVICE_RATE_LIMIT_REDIS_PREFIX", f"sstest:{uuid.uuid4().hex}:")
    return REDIS_URL


def test_redis_counts_are_shared_by_every_process(
    settings: Settings, database: Database, model_hub: ModelHub, redis_url: str
) -> None:
    with (
        _app(settings, database, model_hub, limit=3) as first,
        _app(settings, database, model_hub, limit=3) as second,
    ):
        assert first.get("/v1/accounts").status_code == 401
        assert second.get("/v1/accounts").status_code == 401
        assert first.get("/v1/accounts").headers["ratelimit-remaining"] == "0"
        refused = second.get("/v1/accounts")  # its own process saw one request only
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_redis_limits_a_key(
    settings: Settings,
    database: Database,
    model_hub: ModelHub,
    keys: dict[Role, str],
    redis_url: str,
) -> None:
    with _app(settings, database, model_hub, limit=3) as client:
        viewer = auth(keys[Role.VIEWER])
        answers = [client.get("/v1/accounts", headers=viewer) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]


def test_redis_limiter_against_the_server(redis_url: str) -> None:
    clock = Clock(1200.0)
    prefix = f"sstest:{uuid.uuid4().hex}:"

    async def scenario() -> list[bool]:
        client = RedisClient(redis_url)
        limiter = RedisLimiter(client, 2, prefix=prefix, clock=clock)
        try:
            seen = [(await limiter.hit("ip:a")).allowed for _ in range(3)]
            clock.now += 90  # next window, half-way: 2 x 0.5 + 0 + 1 <= 2
            seen.append((await limiter.hit("ip:a")).allowed)
            seen.append((await limiter.hit("ip:a")).allowed)
            assert await client.call("PING") == "PONG"
            await client.call("DEL", *(f"{prefix}{{ip:a}}:{i}" for i in (20, 21)))
            return seen
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [True, True, False, True, False]


def test_an_unreachable_redis_falls_back_to_in_process_counts(
    settings: Settings,
    database: Database,
    model_hub: ModelHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTIMENT_SERVICE_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    with _app(settings, database, model_hub, limit=2) as client:
        assert [client.get("/v1/accounts").status_code for _ in range(3)] == [401, 401, 429]


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://127.0.0.1:6379/zero"])
def test_bad_redis_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="redis"):
        RedisClient(url)
