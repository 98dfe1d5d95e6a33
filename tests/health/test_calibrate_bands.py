"""calibrate-bands (API and CLI), the outcome probability next to scores, and the traps of
issue 18: the `--basis known` warning, dark sources as of the score's day, `occurred_at`."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from pipelines.ingest import Ingestor, IngestPolicy
from sentiment_service import config_store
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.cli import app
from sentiment_service.health.calibrate import CALIBRATION_KIND
from sentiment_service.health.service import SCORECARD_KIND, get_scorecard, score_day
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import ConfigVersion
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.dashboard.conftest import login
from tests.factories import message

END = date(2026, 10, 31)


def _book(database: Database, accounts: int = 30, seed: int = 5) -> dict[str, bool]:
    """Accounts with weekly logins (churners' fall in the last month) and their outcomes."""
    rng = random.Random(seed)
    churned = {f"b-{i:02d}": i % 3 == 0 for i in range(accounts)}
    metrics, outcomes = [], []
    for account_id, churns in churned.items():
        level = rng.uniform(200, 400)
        for week in range(10):
            day = END - timedelta(days=7 * (9 - week))
            fall = 0.5 * max(0, week - 5) / 4 if churns else 0.0
            value = level * (1 - fall) * rng.uniform(0.85, 1.15)
            metrics.append(
                {
                    "account_id": account_id,
                    "name": "logins",
                    "value": round(value),
                    "observed_at": f"{day.isoformat()}T00:00:00Z",
                    "source": "product_analytics",
                }
            )
        outcomes.append(
            {
                "account_id": account_id,
                "outcome": "churned" if churns else "renewed",
                "occurred_at": f"{(END + timedelta(days=10)).isoformat()}T15:00:00Z",  # alias
            }
        )
    with database.session() as session:
        for account_id in churned:
            upsert_account(session, account_id, AccountIn(name=account_id), actor="t")
        ingest = Ingestor(session, IngestPolicy(), channel="t", actor="t")
        assert ingest.metrics(metrics).counts()["rejected"] == 0
        assert ingest.outcomes(outcomes).counts()["accepted"] == accounts
    return churned


def test_calibrate_bands_stores_a_draft_and_a_probability(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    _book(database)
    analyst = auth(keys[Role.ANALYST])
    refused = client.post(
        "/v1/scorecards/churn_risk/calibrate-bands", json={}, headers=auth(keys[Role.VIEWER])
    )
    assert refused.status_code == 403
    both = client.post(
        "/v1/scorecards/churn_risk/calibrate-bands",
        json={"target_precision": 0.6, "target_recall": 0.6},
        headers=analyst,
    )
    assert both.status_code == 422 and "target_recall" in both.text
    answer = client.post(
        "/v1/scorecards/churn_risk/calibrate-bands",
        json={"horizon_days": 0, "target_precision": 0.8},
        headers=analyst,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["n"], body["positives"], body["flag_band"]) == (30, 10, "at_risk")
    proposal = body["proposal"]
    assert proposal["precision"] >= 0.8 and proposal["recall"] > 0
    assert body["probability"]["n"] == 30 and body["probability"]["slope"] < 0
    with database.session() as session:
        in_force = get_scorecard(session, "churn_risk")
        assert in_force is not None and in_force.version == 1  # never applied by itself
        draft = config_store.latest(session, SCORECARD_KIND, "churn_risk", status="draft")
        assert draft is not None and draft.version == body["draft_version"]
        assert draft.body["bands"][1]["min_score"] == proposal["threshold"]
        assert "calibrate-bands" in draft.reason and "precision" in draft.reason
        assert config_store.latest(session, CALIBRATION_KIND, "churn_risk") is not None
        score_day(session, END - timedelta(days=1), basis="event")
    health = client.get("/v1/accounts/b-00/health", headers=auth(keys[Role.VIEWER])).json()
    churn = next(s for s in health["scores"] if s["scorecard"] == "churn_risk")
    probability = churn["outcome_probability"]
    assert probability["outcome"] == "churned" and probability["n"] == 30
    assert 0 <= probability["probability"] <= 1
    login(client, keys[Role.VIEWER])
    page = client.get("/accounts/b-00")  # the dashboard shows it too
    assert page.status_code == 200
    assert "Churned within 0 days" in page.text and "calibrated on 30 accounts" in page.text


def test_calibrate_bands_says_when_outcomes_are_too_few(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    _book(database, accounts=9)
    body = client.post(
        "/v1/scorecards/churn_risk/calibrate-bands", json={}, headers=auth(keys[Role.ANALYST])
    ).json()
    assert body["proposal"] is None and body["draft_version"] is None
    assert body["probability"] is None and "not enough outcomes" in body["note"]
    with database.session() as session:
        drafts = session.exec(select(ConfigVersion).where(ConfigVersion.status == "draft")).all()
        assert drafts == []


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    url = f"sqlite:///{tmp_path / 'health.db'}"
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", url)
    monkeypatch.setenv("SENTIMENT_SERVICE_DATA_DIR", str(tmp_path))
    migrate.upgrade(url)
    return Database(url)


def test_cli_calibrates_and_warns_about_basis_known_on_loaded_history(
    cli_database: Database,
) -> None:
    _book(cli_database)
    runner = CliRunner()
    known = runner.invoke(app, ["health", "score", "--from", "2026-10-20", "--to", "2026-10-21"])
    assert known.exit_code == 0, known.output
    assert "--basis event" in known.stderr and "ingested after that day" in known.stderr
    event = runner.invoke(
        app, ["health", "score", "--from", "2026-10-20", "--to", "2026-10-21", "--basis", "event"]
    )
    assert "warning" not in event.stderr
    result = runner.invoke(app, ["health", "calibrate-bands", "--horizon", "0"])
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    assert body["proposal"] is not None and body["draft_version"] == 2
    assert body["target"] == {"precision": 0.6}
    missing = runner.invoke(app, ["health", "calibrate-bands", "--scorecard", "nope"])
    assert missing.exit_code == 2 and "no scorecard 'nope'" in missing.stderr


def test_dark_sources_are_judged_on_the_score_day_not_the_wall_clock(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    """An account that wrote every few days until the scored day is not 'dark' just because
    the history was loaded weeks later."""
    with database.session() as session:
        upsert_account(session, "steady", AccountIn(name="Steady"), actor="t")
        records = [
            message(
                f"s-{i}",
                account_id="steady",
                text=f"Weekly check-in number {i}, all fine.",
                created_at=f"{(END - timedelta(days=3 * i)).isoformat()}T10:00:00Z",
            )
            for i in range(12)
        ]
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(records)
        score_day(session, END, basis="event")
    body = client.get("/v1/accounts/steady/health", headers=auth(keys[Role.VIEWER])).json()
    assert body["scores"] and body["dark_sources"] == []
    later = client.get(
        "/v1/accounts/steady/health", params={"day": "2026-10-31"}, headers=auth(keys[Role.VIEWER])
    ).json()
    assert later["dark_sources"] == []


def test_outcomes_accept_occurred_at_as_an_alias(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
    ingest = auth(keys[Role.INGEST])
    body = client.post(
        "/v1/outcomes",
        json={
            "outcomes": [
                {"account_id": "acme", "outcome": "renewed", "occurred_at": "2026-11-02"},
                {
                    "account_id": "acme",
                    "outcome": "expanded",
                    "occurred_at": "2026-11-03T23:30:00-05:00",  # 04:30 UTC on the 4th
                },
                {
                    "account_id": "acme",
                    "outcome": "churned",
                    "occurred_on": "2026-11-05",
                    "occurred_at": "2026-11-05",
                },
            ]
        },
        headers=ingest,
    ).json()
    assert body["counts"]["accepted"] == 2
    assert body["rejected"][0]["field"] == "occurred_at"
    with database.session() as session:
        from sentiment_service.storage.tables import AccountOutcome

        days = sorted(o.occurred_on for o in session.exec(select(AccountOutcome)).all())
    assert days == [date(2026, 11, 2), date(2026, 11, 4)]


def test_a_call_burst_does_not_make_the_call_channel_dark_two_weeks_later(
    database: Database,
) -> None:
    from datetime import UTC, datetime

    from sentiment_service.health.service import account_dark_sources

    call_day = END - timedelta(days=20)
    with database.session() as session:
        upsert_account(session, "caller", AccountIn(name="Caller"), actor="t")
        utterances = [
            message(
                f"u-{i}",
                account_id="caller",
                source="call",
                thread_id="call-1",
                text=f"Point {i} of the quarterly review went fine.",
                created_at=f"{call_day.isoformat()}T10:00:{i:02d}Z",
            )
            for i in range(10)
        ]
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(utterances)
        as_of = datetime(END.year, END.month, END.day, 23, tzinfo=UTC)
        assert account_dark_sources(session, "caller", as_of) == []
