"""`sentiment-service serve --workers 2`: the app factory and the read-timeout protocol load in
uvicorn's worker processes, which share the port and answer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sentiment_service.auth.keys import new_key_string
from tests.conftest import free_port


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts worker processes in /proc")
def test_serve_with_two_workers_answers(database_url: str, tmp_path: Path) -> None:
    port, key = free_port(), new_key_string()
    env = {
        **os.environ,
        "SENTIMENT_SERVICE_DATABASE_URL": database_url,
        "SENTIMENT_SERVICE_BOOTSTRAP_ADMIN_KEY": key,
        "SENTIMENT_SERVICE_DATA_DIR": str(tmp_path),
        "SENTIMENT_SERVICE_PRELOAD_MODELS": "false",
        "SENTIMENT_SERVICE_REQUEST_READ_TIMEOUT_SECONDS": "1",
    }
    executable = shutil.which("sentiment-service", path=str(Path(sys.executable).parent))
    assert executable, "the sentiment-service entry point is not installed"
    log_path = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log,
            stderr=log,
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            else:
                pytest.fail(f"server did not start: {log_path.read_text()}")
            assert len(_children(process.pid)) >= 2, log_path.read_text()
            for _ in range(6):  # several connections, so both workers get some
                with httpx.Client(base_url=base, timeout=5) as client:
                    answer = client.get("/v1/accounts", headers={"X-API-Key": key})
                    assert answer.status_code == 200, answer.text
            # The read-timeout protocol is in force in the workers: a silent client gets 408.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
                silent.sendall(b"GET /healthz HTTP/1.1\r\n")
                assert b"408" in silent.recv(200)
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text()
