"""Every outbound call gives up in bounded time, whatever the server at the other end does.

Two hostile local servers: one accepts connections and never answers, one answers 200 and then
trickles the body a byte at a time, each byte well within the read timeout. The connector HTTP
layer, the alert webhook sender and the rate limiter's Redis client must all give up within a
bound derived from their settings.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from connectors.errors import RetriesExhausted
from connectors.http import HttpPolicy, VendorHttp, build_client
from sentiment_service.alerts.delivery import Attempt, DeliveryPolicy, WebhookSender
from sentiment_service.api.ratelimit import RedisClient

Handler = Callable[[socket.socket, threading.Event], None]


def _never_answer(connection: socket.socket, stop: threading.Event) -> None:
    stop.wait()


def _trickle(connection: socket.socket, stop: threading.Event) -> None:
    """200 with a chunked body that never ends: one byte every 0.1 s."""
    connection.settimeout(1.0)
    try:
        connection.recv(65536)
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        while not stop.wait(0.1):
            connection.sendall(b"1\r\n \r\n")
    except OSError:  # the client gave up and closed the connection
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    """Start a local server whose connections are handled by `handler`; returns its URL."""
    stop = threading.Event()
    threads: list[threading.Thread] = []
    sockets: list[socket.socket] = []

    def start(handler: Handler) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(0.1)
        sockets.append(server)

        def accept() -> None:
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    continue
                sockets.append(connection)
                worker = threading.Thread(target=handler, args=(connection, stop), daemon=True)
                threads.append(worker)
                worker.start()

        thread = threading.Thread(target=accept, daemon=True)
        threads.append(thread)
        thread.start()
        return f"http://127.0.0.1:{server.getsockname()[1]}"

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=2)
    for sock in sockets:
        sock.close()


def test_the_clients_are_built_with_explicit_timeouts() -> None:
    policy = HttpPolicy()
    connector = build_client("https://vendor.example", policy=policy).timeout
    assert connector.connect == policy.connect_timeout
    assert connector.read == connector.write == connector.pool == policy.read_timeout
    webhook = WebhookSender(DeliveryPolicy())
    timeouts = webhook.client.timeout
    assert None not in (timeouts.connect, timeouts.read, timeouts.write, timeouts.pool)
    webhook.close()
    assert RedisClient("redis://127.0.0.1:6379").timeout > 0


FAST = HttpPolicy(
    connect_timeout=0.5, read_timeout=0.5, total_timeout=1.0, max_attempts=2, backoff_base=0.01
)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("handler", [_never_answer, _trickle], ids=["silent", "trickle"])
def test_connector_requests_give_up_in_bounded_time(
    serve: Callable[[Handler], str], handler: Handler
) -> None:
    http = VendorHttp(build_client(serve(handler), policy=FAST), policy=FAST, sleep=lambda _: None)
    started = time.monotonic()
    with pytest.raises(RetriesExhausted, match="timed out"):
        http.get_json("/things")
    # two attempts, each at most total_timeout plus one read timeout
    assert time.monotonic() - started < FAST.max_attempts * (
        FAST.total_timeout + FAST.read_timeout + 1
    )
    assert http.stats.requests == FAST.max_attempts


@pytest.mark.timeout(30)
@pytest.mark.parametrize("handler", [_never_answer, _trickle], ids=["silent", "trickle"])
def test_webhook_posts_give_up_in_bounded_time(
    serve: Callable[[Handler], str], handler: Handler
) -> None:
    policy = DeliveryPolicy(timeout_seconds=0.3, max_attempts=2, backoff_initial=0.01)
    sender = WebhookSender(policy, sleep=lambda _: None)
    attempts: list[Attempt] = []
    started = time.monotonic()
    delivered = sender.post(
        serve(handler) + "/hook", {"text": "hi"}, idempotency_key="k", on_attempt=attempts.append
    )
    elapsed = time.monotonic() - started
    sender.close()
    assert not delivered
    assert len(attempts) == policy.max_attempts
    assert all(a.error is not None and "Timeout" in a.error for a in attempts), attempts
    assert elapsed < policy.max_attempts * (policy.attempt_seconds + policy.timeout_seconds + 1)
    assert policy.lease.total_seconds() > policy.max_attempts * policy.attempt_seconds


@pytest.mark.timeout(30)
def test_the_rate_limiter_redis_client_gives_up_in_bounded_time(
    serve: Callable[[Handler], str],
) -> None:
    port = int(serve(_never_answer).rsplit(":", 1)[1])
    client = RedisClient(f"redis://127.0.0.1:{port}", timeout=0.3)

    async def ping() -> None:
        await client.call("PING")

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(ping())
    assert time.monotonic() - started < 2


def test_webhook_answers_are_read_only_so_far(serve: Callable[[Handler], str]) -> None:
    """A webhook that accepts with an endless body is cut off after MAX_ANSWER_BYTES, within
    the attempt's deadline, instead of being read for ever."""

    def endless_error(connection: socket.socket, stop: threading.Event) -> None:
        connection.settimeout(1.0)
        try:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")
            while not stop.is_set():
                connection.sendall(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
        except OSError:
            pass

    sender = WebhookSender(DeliveryPolicy(timeout_seconds=2, max_attempts=1))
    attempts: list[Attempt] = []
    started = time.monotonic()
    sender.post(serve(endless_error), {}, idempotency_key="k", on_attempt=attempts.append)
    sender.close()
    assert time.monotonic() - started < 6
    assert attempts[0].status_code == 500
    assert attempts[0].error is not None and attempts[0].error.startswith("HTTP 500")
