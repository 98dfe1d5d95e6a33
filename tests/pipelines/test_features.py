"""Account features: definitions on hand-made facts, and point-in-time correctness in storage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from pipelines.features import (
    FEATURE_CATALOG,
    MessageFact,
    account_features,
    metric_features,
    sentiment_features,
)
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.scoring import ScoringWorker
from pipelines.snapshots import snapshot_range
from pipelines.topics import topic_model
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import FeatureSnapshot
from tests.factories import message, metric

AS_OF = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


def fact(days_ago: float, score: float | None, label: str | None, source: str = "ticket"):
    return MessageFact("acme", AS_OF - timedelta(days=days_ago), source, score, label)


def test_sentiment_features_follow_their_definitions() -> None:
    facts = [
        fact(1, -0.8, "negative"),
        fact(5, 0.2, "neutral", "chat"),
        fact(20, -0.4, "negative", "survey"),
        fact(40, 0.6, "positive"),
        fact(100, 0.8, "positive"),
        fact(200, 0.9, "positive"),  # outside every window
        fact(-1, -1.0, "negative"),  # in the future: ignored
    ]
    f = sentiment_features(facts, AS_OF)
    assert f["sentiment_mean_30d"].value == pytest.approx((-0.8 + 0.2 - 0.4) / 3)
    assert f["sentiment_mean_90d"].value == pytest.approx((-0.8 + 0.2 - 0.4 + 0.6) / 4)
    assert f["sentiment_trend_30d"].value == pytest.approx((-1.0 / 3) - 0.7)
    assert f["negative_share_30d"].value == pytest.approx(2 / 3)
    assert f["positive_share_30d"].value == 0
    assert f["message_count_30d"].value == 3
    assert f["days_since_last_message"].value == pytest.approx(1)
    assert f["source_coverage_90d"].value == pytest.approx(3 / 4)
    assert f["sentiment_mean_30d"].observed_at == AS_OF - timedelta(days=1)


def test_no_messages_means_missing_not_zero() -> None:
    f = sentiment_features([fact(60, 0.5, "positive")], AS_OF)
    assert f["sentiment_mean_30d"].value is None
    assert f["negative_share_30d"].value is None
    assert f["sentiment_trend_30d"].value is None
    assert f["message_count_30d"].value == 0


def test_metric_features_latest_change_and_utilisation() -> None:
    at = AS_OF - timedelta(days=2)
    rows = [
        ("logins", 100.0, AS_OF - timedelta(days=35)),
        ("logins", 80.0, at),
        ("seats_used", 45.0, at),
        ("seats_purchased", 50.0, at),
        ("logins", 999.0, AS_OF + timedelta(days=1)),  # future observation
    ]
    f = metric_features(rows, AS_OF)
    assert f["metric_logins"].value == 80 and f["metric_logins"].observed_at == at
    assert f["metric_logins_change_30d"].value == pytest.approx(-0.2)
    assert f["metric_seats_used_change_30d"].value is None
    assert f["seat_utilisation"].value == pytest.approx(0.9)


def test_catalog_covers_every_computed_feature() -> None:
    names = {d.name for d in FEATURE_CATALOG}
    assert len(names) == len(FEATURE_CATALOG)
    assert set(sentiment_features([], AS_OF)) <= names
    assert {"topic_billing_share_30d", "competitor_evaluating_90d", "seat_utilisation"} <= names


def test_features_are_point_in_time(database: Database, model_hub: ModelHub) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
        ingest = Ingestor(session, IngestPolicy(), channel="t", actor="t")
        ingest.messages(
            [
                message(
                    "a", text="Billing charged us twice, awful.", created_at="2026-10-01T09:00:00Z"
                ),
                message(
                    "b",
                    text="We are moving to Quorvo next month.",
                    created_at="2026-10-20T09:00:00Z",
                ),
            ]
        )
        ingest.metrics(
            [
                metric("logins", 10, observed_at="2026-10-01T00:00:00Z"),
                metric("logins", 30, observed_at="2026-10-21T00:00:00Z"),
            ]
        )
    ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda s: topic_model(s, model_hub),
        worker_id="w",
    ).drain()
    with database.session() as session:
        early = account_features(
            session, ["acme"], datetime(2026, 10, 10, tzinfo=UTC), basis="event"
        )["acme"]
        late = account_features(
            session, ["acme"], datetime(2026, 10, 25, tzinfo=UTC), basis="event"
        )["acme"]
        known = account_features(
            session, ["acme"], datetime(2026, 10, 25, tzinfo=UTC), basis="known"
        )["acme"]
        now = account_features(session, ["acme"], datetime.now(UTC) + timedelta(seconds=5))["acme"]
    assert early["message_count_30d"].value == 1
    assert early["metric_logins"].value == 10
    assert early["competitor_mentions_90d"].value == 0
    assert late["message_count_30d"].value == 2
    assert late["metric_logins"].value == 30
    assert late["competitor_evaluating_90d"].value == 1
    assert late["topic_billing_share_30d"].value == pytest.approx(0.5)
    # Ingested today: on the "known" basis nothing existed on 25 October.
    assert known["message_count_30d"].value == 0 and known["metric_logins"].value is None
    assert now["metric_logins"].value == 30


def test_snapshots_are_idempotent_and_resume(database: Database) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
        upsert_account(session, "globex", AccountIn(name="Globex"), actor="t")
    first = snapshot_range(database, date(2026, 10, 1), date(2026, 10, 3), basis="event")
    assert (first.days, first.rows) == (3, 6)
    again = snapshot_range(database, date(2026, 10, 1), date(2026, 10, 4), basis="event")
    assert (again.days, again.skipped_days, again.rows) == (1, 3, 2)
    replaced = snapshot_range(database, date(2026, 10, 1), date(2026, 10, 1), replace=True)
    assert replaced.rows == 2
    with database.session() as session:
        rows = session.exec(select(FeatureSnapshot)).all()
    assert len(rows) == 8
    assert {r.model_versions["basis"] for r in rows if r.as_of == date(2026, 10, 1)} == {"known"}


def test_corrections_change_features_at_once(database: Database, model_hub: ModelHub) -> None:
    from sentiment_service.storage.tables import LabelCorrection, Message, TopicCorrection

    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(
            [
                message(
                    "a",
                    text="Billing charged us twice, awful.",
                    created_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
                )
            ]
        )
    ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda s: topic_model(s, model_hub),
        worker_id="w",
    ).drain()
    as_of = datetime.now(UTC) + timedelta(seconds=5)
    with database.session() as session:
        before = account_features(session, ["acme"], as_of)["acme"]
        [stored] = session.exec(select(Message)).all()
        session.add(LabelCorrection(message_id=stored.id, label="positive", corrected_by="ana"))
        session.add(
            TopicCorrection(
                message_id=stored.id, topic="billing", present=False, corrected_by="ana"
            )
        )
        session.add(
            TopicCorrection(message_id=stored.id, topic="praise", present=True, corrected_by="ana")
        )
    with database.session() as session:
        after = account_features(session, ["acme"], as_of + timedelta(seconds=5))["acme"]
    assert before["negative_share_30d"].value == 1 and before["topic_billing_share_30d"].value == 1
    assert after["sentiment_mean_30d"].value == 1.0 and after["negative_share_30d"].value == 0
    assert after["topic_billing_share_30d"].value == 0
    assert after["topic_praise_share_30d"].value == 1
