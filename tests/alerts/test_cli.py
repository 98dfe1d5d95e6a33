"""`sentiment-service alerts`: one evaluation and delivery run with a JSON summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentiment_service.cli import app
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from tests.alerts.conftest import Webhook, add_account, add_rollup, add_rule, ago, today

runner = CliRunner()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """A migrated SQLite file the CLI's settings point at."""
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", url)
    monkeypatch.setenv("SENTIMENT_SERVICE_ALERT_MAX_ATTEMPTS", "1")
    monkeypatch.chdir(tmp_path)
    migrate.upgrade(url)
    return Database(url)


def test_alerts_command_evaluates_delivers_and_reports(
    cli_database: Database, webhook: Webhook
) -> None:
    with cli_database.session() as session:
        add_account(session, "acme")
        for offset in range(3):
            add_rollup(session, "acme", today() - ago(offset), negative=9)
    add_rule(cli_database, "negative_share", url=webhook.url)
    cli_database.dispose()
    result = runner.invoke(app, ["alerts"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["new_events"] == 1 and summary["delivered"] == 1
    assert summary["rules"][0]["kind"] == "negative_share"
    again = json.loads(runner.invoke(app, ["alerts"]).stdout)
    assert again["new_events"] == 0 and len(webhook.requests) == 1


def test_alerts_command_exits_1_while_a_delivery_fails(
    cli_database: Database, webhook: Webhook
) -> None:
    with cli_database.session() as session:
        add_account(session, "acme")
        for offset in range(3):
            add_rollup(session, "acme", today() - ago(offset), negative=9)
    add_rule(cli_database, "negative_share", url=webhook.url)
    cli_database.dispose()
    webhook.fail_always = True
    result = runner.invoke(app, ["alerts"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["failed"] == 1 and summary["pending"] == 1 and summary["attempts"] == 1


def test_alerts_command_checks_as_of(cli_database: Database) -> None:
    result = runner.invoke(app, ["alerts", "--as-of", "2026-10-01T00:00:00"])
    assert result.exit_code == 2 and "--as-of" in result.output
    ok = runner.invoke(app, ["alerts", "--as-of", "2026-10-01T00:00:00Z", "--no-deliver"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["rules_evaluated"] == 0
