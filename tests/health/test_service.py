"""Health scores in storage: daily scoring, versions, overrides and backtests on real data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

from sentiment_service.health.service import (
    VersionedScorecard,
    active_scorecards,
    backtest_scorecard,
    effective,
    get_scorecard,
    save_scorecard,
    score_day,
    without_kinds,
)
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import HealthOverride, HealthScoreRecord
from tests.health.data import DAY, load_accounts


@pytest.fixture
def loaded(database: Database, model_hub: ModelHub) -> Database:
    load_accounts(database, model_hub)
    return database


def test_daily_scores_rank_unhappy_accounts_lower_and_explain(loaded: Database) -> None:
    with loaded.session() as session:
        records = score_day(session, DAY, basis="event")
        assert {r.scorecard for r in records} == {"churn_risk", "expansion"}
        churn = {r.account_id: r for r in records if r.scorecard == "churn_risk"}
        assert max(churn[a].score for a in ("sad-1", "sad-2")) < min(
            churn[a].score for a in ("happy-1", "happy-2")
        )
        assert churn["silent"].score is None and churn["silent"].band == "unknown"
        assert churn["silent"].confidence == 0
        explained = churn["sad-1"].explanation
        points = sum(c["contribution"] for c in explained["components"])
        assert points == pytest.approx(churn["sad-1"].score, abs=0.05)
        assert churn["sad-1"].scorecard_version == 1
        assert churn["sad-1"].peer_percentile is not None
        # Re-running the day replaces its rows.
        score_day(session, DAY, basis="event")
        count = session.exec(
            select(func.count())
            .select_from(HealthScoreRecord)
            .where(HealthScoreRecord.as_of == DAY)
        ).one()
        assert count == 10


def test_second_day_has_drivers_and_change(loaded: Database) -> None:
    with loaded.session() as session:
        score_day(session, DAY - timedelta(days=20), basis="event")
        [record] = [
            r
            for r in score_day(session, DAY + timedelta(days=10), basis="event")
            if r.account_id == "sad-1" and r.scorecard == "churn_risk"
        ]
        assert record.explanation.get("drivers")
        assert record.explanation["change_30d"] is not None


def test_override_wins_until_expiry_and_computed_stays(loaded: Database) -> None:
    now = datetime.now(UTC)
    with loaded.session() as session:
        [record] = [
            r
            for r in score_day(session, DAY, basis="event")
            if r.account_id == "sad-1" and r.scorecard == "churn_risk"
        ]
        session.add(
            HealthOverride(
                account_id="sad-1",
                scorecard="churn_risk",
                band="healthy",
                score=None,
                reason="Signed a 3-year renewal yesterday",
                expires_at=now + timedelta(days=7),
                created_by="ana",
                created_at=now - timedelta(hours=1),
            )
        )
        session.flush()
        shown, row = effective(session, record, now)
        assert shown.band == "healthy" and shown.source == "override" and row is not None
        assert shown.computed.score == record.score
        later, _ = effective(session, record, now + timedelta(days=8))
        assert later.source == "computed" and later.band == record.band


def test_versions_are_immutable_and_backtests_compare(loaded: Database) -> None:
    with loaded.session() as session:
        current = get_scorecard(session, "churn_risk")
        assert current is not None and current.version == 1
        body = current.card.model_dump(mode="json")
        body["components"][0]["weight"] = 9.0
        card = type(current.card).model_validate(body)
        saved = save_scorecard(session, card, author="ana", reason="sentiment matters more")
        assert saved.version == 2
        assert get_scorecard(session, "churn_risk", 1).card.components[0].weight != 9.0
        assert {c.version for c in active_scorecards(session) if c.card.id == "churn_risk"} == {2}
        result = backtest_scorecard(session, saved, horizon_days=10)
        assert (result.result.n, result.result.n_unscored, result.result.n_positive) == (4, 1, 2)
        assert result.result.auc == 1.0
        stripped = without_kinds(saved.card, {"sentiment", "topic"}, "without_sentiment")
        assert all(c.kind == "metric" for c in stripped.components)
        plain = backtest_scorecard(session, VersionedScorecard(stripped, 2), horizon_days=10)
        assert plain.result.n + plain.result.n_unscored == 5


def test_a_channel_going_dark_lowers_confidence(database: Database, model_hub: ModelHub) -> None:
    from pipelines.ingest import Ingestor, IngestPolicy
    from sentiment_service.accounts import AccountIn, upsert_account
    from sentiment_service.health.scoring import HealthScore
    from tests.factories import message

    chats = [
        message(
            f"chat-{i}",
            account_id="quiet",
            source="chat",
            source_system="intercom",
            text=f"Quick question number {i} about exports",
            created_at=f"2026-08-{1 + 2 * i:02d}T10:00:00Z",
        )
        for i in range(12)
    ]
    tickets = [
        message(
            f"t-{i}",
            account_id="quiet",
            text=f"Ticket {i}: the sync works fine now",
            created_at=f"2026-10-{20 + 2 * i:02d}T10:00:00Z",
        )
        for i in range(5)
    ]
    with database.session() as session:
        upsert_account(session, "quiet", AccountIn(name="Quiet"), actor="t")
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(chats + tickets)
    from pipelines.scoring import ScoringWorker
    from pipelines.topics import topic_model

    ScoringWorker(
        database, model_hub.scorer(), topics=lambda s: topic_model(s, model_hub), worker_id="t"
    ).drain()
    with database.session() as session:
        [record] = [
            r for r in score_day(session, DAY, basis="event") if r.scorecard == "churn_risk"
        ]
        dark = [d["source"] for d in record.explanation["dark_sources"]]
        computed = HealthScore.model_validate(record.explanation).confidence
    assert dark == ["chat"]
    assert record.confidence == pytest.approx(computed * 0.85, abs=1e-4)
