"""Connecting to a Ray cluster that does not answer fails with a clear error, in bounded time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipelines.ray_backfill import call_with_deadline
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_deadline_passes_on_results_errors_and_hangs() -> None:
    call_with_deadline(lambda: None, 1, "quick")
    with pytest.raises(KeyError):
        call_with_deadline(lambda: {}["missing"], 1, "failing")
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"hanging: no answer within 0\.5 s"):
        call_with_deadline(never.wait, 0.5, "hanging")
    assert time.monotonic() - started < 2


def test_ray_init_with_an_address_nobody_serves_gives_up_after_the_timeout() -> None:
    pytest.importorskip("ray")
    address = f"127.0.0.1:{free_port()}"  # ray.init alone keeps retrying this for minutes
    script = (
        "import sys, time\n"
        "from pipelines.ray_backfill import ray_session\n"
        "started = time.monotonic()\n"
        "try:\n"
        f"    with ray_session({address!r}, connect_timeout=2):\n"
        "        sys.exit('connected')\n"
        "except TimeoutError as error:\n"
        "    print('TIMEOUT', round(time.monotonic() - started, 1), error, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("TIMEOUT"))
    assert address in line
    assert float(line.split()[1]) < 5
