"""A real `sentiment-service serve` cuts off clients that send half a request (slowloris)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentiment_service.auth.keys import new_key_string
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from tests.conftest import free_port

READ_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """(port, admin key) of a server on its own SQLite file, with a short read deadline."""
    folder = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{folder / 'serve.db'}"
    migrate.upgrade(url)
    port, key = free_port(), new_key_string()
    env = {
        **os.environ,
        "SENTIMENT_SERVICE_DATABASE_URL": url,
        "SENTIMENT_SERVICE_BOOTSTRAP_ADMIN_KEY": key,
        "SENTIMENT_SERVICE_DATA_DIR": str(folder),
        "SENTIMENT_SERVICE_PRELOAD_MODELS": "false",
        "SENTIMENT_SERVICE_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    }
    executable = shutil.which("sentiment-service", path=str(Path(sys.executable).parent))
    assert executable
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "serve", "--port", str(port)], env=env, stdout=log, stderr=log, cwd=folder
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                pytest.fail(f"server did not start: {log_path.read_text()}")
            yield port, key
        finally:
            process.terminate()
            process.wait(timeout=15)


def _cut_off_after(port: int, *parts: bytes) -> tuple[float, bytes]:
    """Send `parts` and then nothing; seconds until the server closed, and what it said."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT * 6) as client:
        start = time.monotonic()
        for part in parts:
            client.sendall(part)
        answer = b""
        while chunk := client.recv(4096):  # raises socket.timeout if never closed
            answer += chunk
        return time.monotonic() - start, answer


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param((), id="nothing"),
        pytest.param((b"GET /healthz HT",), id="half-a-request-line"),
        pytest.param((b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",), id="half-the-headers"),
    ],
)
def test_a_client_that_stalls_before_the_headers_end_gets_a_408(
    served: tuple[int, str], parts: tuple[bytes, ...]
) -> None:
    elapsed, answer = _cut_off_after(served[0], *parts)
    assert READ_TIMEOUT * 0.8 <= elapsed < READ_TIMEOUT + 3
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_client_that_stalls_in_the_body_gets_a_408_even_with_a_valid_key(
    served: tuple[int, str],
) -> None:
    port, key = served
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    elapsed, answer = _cut_off_after(port, head, b'{"messages": [')
    assert elapsed < READ_TIMEOUT + 3
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_kept_alive_connection_is_cut_off_in_its_second_request_and_others_are_served(
    served: tuple[int, str],
) -> None:
    port, _ = served
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    elapsed, answer = _cut_off_after(port, first, b"GET /healthz HTTP/1.1\r\nHo")
    assert answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in answer
    assert elapsed < READ_TIMEOUT + 3
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200


def test_the_default_read_deadline_is_within_15_seconds() -> None:
    assert Settings.model_fields["request_read_timeout_seconds"].default <= 15
