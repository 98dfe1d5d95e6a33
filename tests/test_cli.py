"""The `sentiment-service` command line: init-db, keys and the demo loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from sentiment_service.cli import app
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    ApiKey,
    HealthScoreRecord,
    Message,
    MessageTopic,
    Metric,
    QuarantineRecord,
)

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI's settings at a fresh SQLite file."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "serve",
        "init-db",
        "demo",
        "create-key",
        "revoke-key",
        "worker",
        "rescore",
        "evaluate",
        "sync",
        "promote-model",
        "bench",
        "adapt",
        "quarantine",
        "import-transcripts",
    ):
        assert command in result.output


def test_init_db_then_create_and_revoke_key(sqlite_env: str) -> None:
    assert runner.invoke(app, ["init-db"]).exit_code == 0
    database = Database(sqlite_env)
    assert migrate.is_current(database.engine)
    created = runner.invoke(app, ["create-key", "--role", "analyst", "--name", "ana"])
    assert created.exit_code == 0, created.output
    info = json.loads(created.output)
    assert info["role"] == "analyst" and info["key"].startswith("ssk_")
    assert runner.invoke(app, ["revoke-key", str(info["id"])]).exit_code == 0
    with database.session() as session:
        assert session.get(ApiKey, info["id"]).revoked_at is not None  # type: ignore[union-attr]
    assert runner.invoke(app, ["revoke-key", "999"]).exit_code == 1
    database.dispose()


def test_create_key_rejects_unknown_roles(sqlite_env: str) -> None:
    result = runner.invoke(app, ["create-key", "--role", "root"])
    assert result.exit_code == 2
    assert "unknown role" in result.output


@pytest.mark.slow
def test_demo_loads_the_sample_data_idempotently(sqlite_env: str) -> None:
    first = runner.invoke(app, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "Admin API key (shown once): ssk_" in first.output
    database = Database(sqlite_env)
    with database.session() as session:
        counts = {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Account, Message, Metric, QuarantineRecord)
        }
        redacted = session.exec(select(func.count()).where(Message.redactions > 0)).one()
        emails_left = session.exec(
            select(func.count()).where(Message.text.contains("@example"))  # type: ignore[attr-defined]
        ).one()
    assert counts["Account"] >= 25 and counts["Message"] >= 1500 and counts["Metric"] > 500
    assert redacted > 0 and emails_left == 0
    with database.session() as session:
        cards = session.exec(select(HealthScoreRecord.scorecard).distinct()).all()
        topics = session.exec(select(func.count()).select_from(MessageTopic)).one()
    assert sorted(cards) == ["churn_risk", "expansion"] and topics > 500
    second = runner.invoke(app, ["demo", "--no-serve"])
    assert second.exit_code == 0
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == counts["Message"]
        assert (
            session.exec(select(func.count()).select_from(QuarantineRecord)).one()
            == counts["QuarantineRecord"]
        )
    database.dispose()
