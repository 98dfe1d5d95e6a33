"""The real thing: `sentiment-service serve` in a subprocess, spoken to over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentiment_service.auth.keys import new_key_string
from sentiment_service.storage.database import Database
from tests.conftest import free_port
from tests.factories import account_body, message


@pytest.fixture
def server(
    database_url: str, database: Database, tmp_path: Path
) -> Iterator[tuple[str, str, Path]]:
    """A running server: (base url, admin key, stderr log file)."""
    port, key = free_port(), new_key_string()
    env = {
        **os.environ,
        "SENTIMENT_SERVICE_DATABASE_URL": database_url,
        "SENTIMENT_SERVICE_BOOTSTRAP_ADMIN_KEY": key,
        "SENTIMENT_SERVICE_DATA_DIR": str(tmp_path),
    }
    executable = shutil.which("sentiment-service", path=str(Path(sys.executable).parent))
    assert executable, "the sentiment-service entry point is not installed"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
            cwd=tmp_path,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                pytest.fail(f"server did not start: {log_path.read_text()}")
            yield base, key, log_path
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_ingest_over_real_http_and_logs_hold_no_secrets_or_text(
    server: tuple[str, str, Path],
) -> None:
    base, key, log_path = server
    headers = {"X-API-Key": key}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        assert http.put("/v1/accounts/acme", json=account_body()).status_code == 201
        secret_text = "Reach me at dana.secret@example.org, the sync broke"
        body = http.post("/v1/messages", json={"messages": [message(text=secret_text)]}).json()
        assert body["counts"]["accepted"] == 1
        assert http.get("/v1/accounts/acme").json()["name"] == "Acme Freight"
        assert http.get("/v1/accounts", headers={"X-API-Key": "nope"}).status_code == 401
    time.sleep(0.3)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert {r["route"] for r in requests} >= {"/v1/messages", "/v1/accounts/{account_id}"}
    assert all(len(r["request_id"]) == 32 for r in requests)
    raw = log_path.read_text()
    assert key not in raw and "dana.secret" not in raw and "sync broke" not in raw
