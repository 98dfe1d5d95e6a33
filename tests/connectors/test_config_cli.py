"""Configuration loading, the `sync` command against the fake Zendesk, and the scheduler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from connectors.base import SyncSummary
from connectors.cli import schedule_command, sync_command
from connectors.config import ConnectorConfig, ZendeskConfig, load_config
from connectors.errors import ConfigError
from connectors.schedule import Scheduler
from sentiment_service.storage.database import Database
from tests.connectors.conftest import make_accounts, stored, sync_state
from tools.fake_vendors.server import FakeApi
from tools.fake_vendors.zendesk_fake import FakeZendesk, basic, generate

CONFIG = """
secrets_file: secrets.yaml
connectors:
  - name: zendesk-main
    type: zendesk
    subdomain: acme
    interval_seconds: 600
    credentials: {email: ops@example.com, api_token: "${ZD_TOKEN}"}
    domains: {acme.example: acme}
    per_page: 2
  - name: nps
    type: survey_file
    path: nps.csv
    columns: {text: Verbatim, created_at: Submitted, score: NPS, email: Email}
"""


def write(tmp_path: Path, text: str = CONFIG, secrets: str = "ZD_TOKEN: secret-token\n") -> Path:
    """The config and its secrets file in `tmp_path`."""
    (tmp_path / "secrets.yaml").write_text(secrets)
    path = tmp_path / "connectors.yaml"
    path.write_text(text)
    return path


def test_loads_secrets_from_file_and_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path), env={})
    zendesk = config.get("zendesk-main")
    assert isinstance(zendesk, ZendeskConfig)
    assert zendesk.credentials.api_token.get_secret_value() == "secret-token"
    assert "secret-token" not in repr(config)
    from_env = load_config(write(tmp_path), env={"ZD_TOKEN": "env-token"}).get("zendesk-main")
    assert isinstance(from_env, ZendeskConfig)
    assert from_env.credentials.api_token.get_secret_value() == "env-token"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CONFIG.replace("${ZD_TOKEN}", "${NOPE}"), "${NOPE} is not set"),
        (CONFIG.replace("type: zendesk", "type: zenddesk"), "does not match any of the expected"),
        (CONFIG.replace("    subdomain: acme\n", ""), "give either subdomain or base_url"),
        (CONFIG.replace("name: nps", "name: zendesk-main"), "repeated: zendesk-main"),
        (CONFIG.replace("interval_seconds: 600", "interval_seconds: 0"), "interval_seconds"),
        ("connectors: [", "not valid YAML"),
    ],
)
def test_invalid_configuration_is_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text), env={})
    assert message in str(raised.value)
    assert "secret-token" not in str(raised.value)


@pytest.fixture
def zendesk_api() -> Iterator[tuple[FakeZendesk, FakeApi]]:
    """A small fake Zendesk."""
    fake = FakeZendesk(auth=basic("ops@example.com", "secret-token"))
    generate(fake, tickets=3, comments=6, orgs=1)
    with FakeApi(fake) as api:
        yield fake, api


def cli() -> typer.Typer:
    """An app with the two commands mounted as the service CLI will."""
    app = typer.Typer()
    app.command("sync")(sync_command)
    app.command("schedule")(schedule_command)
    return app


def test_sync_command_prints_summary_and_stores(
    database: Database,
    database_url: str,
    tmp_path: Path,
    zendesk_api: tuple[FakeZendesk, FakeApi],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, api = zendesk_api
    make_accounts(database, {"acme": {"zendesk": "100"}})
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", database_url)
    path = write(tmp_path)
    args = ["sync", "zendesk-main", "--config", str(path), "--base-url", api.url, "--no-progress"]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["stored"] == sum(len(c) for c in fake.comments.values()) == len(stored(database))
    assert summary["complete"] is True
    bad = CliRunner().invoke(
        cli(), [*args[:2], "--config", str(write(tmp_path, secrets="ZD_TOKEN: x\n")), *args[4:]]
    )
    assert bad.exit_code == 2 and "authentication failed" in bad.output
    state = sync_state(database, "zendesk-main")
    assert state is not None and state.last_error and "authentication failed" in state.last_error
    unknown = CliRunner().invoke(cli(), ["sync", "nope", "--config", str(path)])
    assert unknown.exit_code == 2 and "no connector named 'nope'" in unknown.output


def test_scheduler_runs_each_connector_at_its_interval(tmp_path: Path) -> None:
    config = load_config(write(tmp_path), env={})
    now = [0.0]
    calls: list[str] = []

    def run_one(entry: ConnectorConfig) -> SyncSummary:
        calls.append(entry.name)
        if entry.name == "nps":
            raise ConfigError("nps.csv missing")
        return SyncSummary(connector=entry.name, complete=True)

    scheduler = Scheduler(config, run_one, clock=lambda: now[0])
    first = scheduler.run_due()
    assert calls == ["zendesk-main", "nps"] and first[1].error == "nps.csv missing"
    now[0] = 599.0
    assert scheduler.run_due() == [] and scheduler.seconds_until_next() == 1.0
    now[0] = 900.0
    assert [s.connector for s in scheduler.run_due()] == ["zendesk-main", "nps"]


def test_every_connector_type_builds_from_json_config(tmp_path: Path) -> None:
    from connectors.registry import Runtime, build_connector, close_connector

    entries = [
        {
            "name": "zd",
            "type": "zendesk",
            "base_url": "https://zd.example",
            "credentials": {"email": "a@b.c", "api_token": "${T}"},
        },
        {"name": "ic", "type": "intercom", "credentials": {"token": "${T}"}},
        {"name": "dl", "type": "delighted", "credentials": {"api_key": "${T}"}},
        {"name": "x", "type": "x", "query": "@brand", "credentials": {"token": "${T}"}},
        {"name": "hs", "type": "hubspot_notes", "credentials": {"token": "${T}"}},
        {"name": "notes", "type": "notes_file", "path": "notes.csv"},
    ]
    path = tmp_path / "connectors.json"
    path.write_text(json.dumps({"connectors": entries}))
    config = load_config(path, env={"T": "tok"})
    built = {c.name: build_connector(c, Runtime(max_requests=5)) for c in config.connectors}
    assert {name: type(c).__name__ for name, c in built.items()} == {
        "zd": "ZendeskConnector",
        "ic": "IntercomConnector",
        "dl": "DelightedConnector",
        "x": "XConnector",
        "hs": "HubSpotNotesConnector",
        "notes": "FileImportConnector",
    }
    assert built["ic"].http.client.base_url.host == "api.intercom.io"  # type: ignore[attr-defined]
    assert built["zd"].http.policy.max_requests == 5  # type: ignore[attr-defined]
    for connector in built.values():
        close_connector(connector)
