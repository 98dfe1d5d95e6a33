"""Fault-injection fixtures: a private PostgreSQL cluster that tests may stop and restart, and
the real service (`sentiment-service serve`, `worker`, `sync`) run as subprocesses against it.

The cluster is started per test module with `initdb` + `pg_ctl` (as the `postgres` OS user when
running as root, since PostgreSQL refuses to run as root) on a free port of 127.0.0.1 with trust
authentication, so stopping it never disturbs the shared server other tests use. Without the
PostgreSQL binaries these tests are skipped, unless SENTIMENT_SERVICE_TEST_REQUIRE_POSTGRES=1
(as in CI), where that is an error.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import psycopg
import pytest
from sqlmodel import text

from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.auth.keys import new_key_string
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from tests.conftest import REQUIRE_POSTGRES, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_OWNER = "postgres"
# Distinct words: a message's text encodes its number in words, so no two texts share a
# template (numbers are masked by the near-duplicate check; words are not).
WORDS = (
    "amber",
    "basil",
    "cedar",
    "delta",
    "ember",
    "fable",
    "garnet",
    "harbor",
    "iris",
    "jasper",
    "kestrel",
    "lumen",
    "maple",
    "nectar",
    "onyx",
    "pepper",
    "quartz",
    "raven",
    "sable",
    "tundra",
    "umber",
    "velvet",
    "willow",
    "zephyr",
)


def _postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or the newest /usr/lib/postgresql/N."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parent.parent.name)],
    )
    return versions[-1].parent if versions else None


def _unavailable(reason: str) -> NoReturn:
    if REQUIRE_POSTGRES:
        pytest.fail(f"PostgreSQL required but {reason}")
    pytest.skip(reason)


@dataclass
class PostgresCluster:
    """A throw-away PostgreSQL cluster in `root`, listening on 127.0.0.1:`port`."""

    bin_dir: Path
    root: Path
    port: int
    run_as: list[str] = field(default_factory=list)  # prefix to run a command as the owner

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server log."""
        return self.root / "server.log"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [*self.run_as, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            output = done.stderr + done.stdout
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {output}\n{log}")

    def init(self) -> None:
        """Create the cluster (trust authentication, superuser `postgres`)."""
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = " ".join(
            [
                f"-c port={self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c max_connections=60",
            ]
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: roll back open transactions and disconnect clients)."""
        self._run(str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w")

    def running(self) -> bool:
        """Whether the server runs (`pg_ctl status`)."""
        command = [*self.run_as, str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data)]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down for `down_seconds`, start again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        """An autocommit connection to the `postgres` database."""
        return psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self) -> str:
        """A new, migrated database; returns its URL."""
        name = f"faults_{uuid.uuid4().hex[:10]}"
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        migrate.upgrade(url)
        return url

    def drop_database(self, url: str) -> None:
        """Drop a database made by `create_database` (disconnecting its clients)."""
        name = url.rsplit("/", 1)[1]
        with self.admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster for this test module (stopped and deleted afterwards)."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        _unavailable("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            owner = pwd.getpwnam(PG_OWNER)
        except KeyError:
            _unavailable(f"running as root and there is no {PG_OWNER!r} user to run PostgreSQL")
        runuser = shutil.which("runuser")
        if runuser is None:
            _unavailable("running as root and `runuser` is missing")
        run_as = [runuser, "-u", PG_OWNER, "--"]
    # As root, /tmp itself: the `postgres` user must reach the folder (TMPDIR may not let it).
    parent = "/tmp" if owner is not None and Path("/tmp").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="sentiment-faults-pg-", dir=parent))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bin_dir, root, free_port(), run_as)
    try:
        cluster.init()
        cluster.start()
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"a private cluster could not be started: {error}")
    try:
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh migrated database in the private cluster (the cluster is running again after
    the test, whatever the test did to it)."""
    url = pg_cluster.create_database()
    yield url
    if not pg_cluster.running():  # the test failed while the server was down
        pg_cluster.start()
    pg_cluster.drop_database(url)


def service_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a service subprocess: this one without SENTIMENT_SERVICE_* settings,
    plus the database, a private data folder and `settings` (names without the prefix)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SENTIMENT_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO_ROOT),
            "SENTIMENT_SERVICE_DATABASE_URL": database_url,
            "SENTIMENT_SERVICE_DATA_DIR": str(data_dir),
            "SENTIMENT_SERVICE_PRELOAD_MODELS": "false",
            "SENTIMENT_SERVICE_RATE_LIMIT_PER_MINUTE": "0",
        }
    )
    env.update({f"SENTIMENT_SERVICE_{key.upper()}": value for key, value in settings.items()})
    return env


def cli_executable() -> str:
    """The installed `sentiment-service` entry point of this interpreter's environment."""
    executable = shutil.which("sentiment-service", path=str(Path(sys.executable).parent))
    assert executable, "the sentiment-service entry point is not installed"
    return executable


@dataclass
class Child:
    """A service subprocess and its combined stdout/stderr log."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Everything it printed so far."""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL it and reap it."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM it and wait for its exit status."""
        if self.alive():
            self.process.terminate()
        return self.process.wait(timeout=timeout)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Starts `sentiment-service` subprocesses (killed at the end of the test if still up)."""
    children: list[Child] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> Child:
        log_path = tmp_path / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [cli_executable(), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        child = Child(process, log_path)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


@dataclass
class Server:
    """A running `sentiment-service serve`."""

    child: Child
    base_url: str
    admin_key: str


def start_server(spawn: Callable[..., Child], env: dict[str, str]) -> Server:
    """Start the API with a bootstrap admin key; wait until /healthz answers."""
    port, key = free_port(), new_key_string()
    env = {**env, "SENTIMENT_SERVICE_BOOTSTRAP_ADMIN_KEY": key}
    child = spawn("server", ["serve", "--host", "127.0.0.1", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.alive(), f"the server exited: {child.log()}"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return Server(child, base, key)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"the server did not start: {child.log()}")


def make_accounts(database_url: str, *accounts: tuple[str, dict[str, str]]) -> None:
    """Create accounts (id, {source_system: external id}) directly in the database."""
    database = Database(database_url)
    try:
        with database.session() as session:
            for account_id, external_ids in accounts:
                upsert_account(
                    session,
                    account_id,
                    AccountIn(name=account_id.title(), external_ids=external_ids),
                    actor="test",
                )
    finally:
        database.dispose()


def words_for(number: int) -> str:
    """Three words that spell `number` (distinct for numbers below 24**3)."""
    base = len(WORDS)
    return " ".join(WORDS[(number // base**power) % base] for power in range(3))


def message_records(prefix: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    """`count` valid English message records with unique external ids and texts."""
    return [
        {
            "source": "ticket",
            "source_system": "faults",
            "external_id": f"{prefix}-{number}",
            "account_id": "acme",
            "author_role": "customer",
            "text": f"The {words_for(number)} report is failing again and support is slow.",
            "language": "en",
            "created_at": f"2026-10-01T{9 + number // 60 % 10:02d}:{number % 60:02d}:00Z",
            "thread_id": f"{prefix}-thread-{number % 7}",
        }
        for number in range(start, start + count)
    ]


def scalar(database_url: str, sql: str) -> Any:
    """One value read with a short-lived connection."""
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        database.dispose()


def rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """All rows of a query, read with a short-lived connection."""
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql)).all()]
    finally:
        database.dispose()


def wait_until_disconnected(database_url: str, timeout: float = 30) -> None:
    """Wait until no other client is connected to the database: the server processes of a
    killed client have then finished whatever it had sent (a COMMIT included) and gone."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    wait_for(lambda: scalar(database_url, sql) == 0, timeout, "the killed client's sessions")


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
