"""A small scored dataset for health tests: two happy accounts that renew, two unhappy ones
that churn, and one without any data."""

from __future__ import annotations

from datetime import date

from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from tests.factories import message, metric

HAPPY = ["Love the new dashboards, great work!", "Support sorted it out fast, thank you."]
UNHAPPY = [
    "Third outage this week, this is unacceptable.",
    "We are looking at Quorvo, they are cheaper and actually work.",
    "Still no answer on my ticket, very disappointed.",
]
DAY = date(2026, 10, 31)


def load_accounts(database: Database, model_hub: ModelHub) -> None:
    plan = {
        "happy-1": ("renewed", HAPPY, 100, 110),
        "happy-2": ("renewed", HAPPY, 80, 85),
        "sad-1": ("churned", UNHAPPY, 100, 40),
        "sad-2": ("churned", UNHAPPY, 90, 30),
        "silent": ("renewed", [], None, None),
    }
    records, metrics, outcomes = [], [], []
    for account, (outcome, texts, before, after) in plan.items():
        records += [
            message(
                f"{account}-{i}",
                account_id=account,
                text=text,
                created_at=f"2026-10-{10 + 3 * i:02d}T10:00:00Z",
            )
            for i, text in enumerate(texts)
        ]
        if before is not None:
            metrics += [
                metric("logins", before, account_id=account, observed_at="2026-09-28T00:00:00Z"),
                metric("logins", after, account_id=account, observed_at="2026-10-26T00:00:00Z"),
            ]
        outcomes.append({"account_id": account, "outcome": outcome, "occurred_on": "2026-11-20"})
    with database.session() as session:
        for account in plan:
            upsert_account(session, account, AccountIn(name=account, segment="smb"), actor="t")
        ingest = Ingestor(session, IngestPolicy(), channel="t", actor="t")
        assert ingest.messages(records).counts()["rejected"] == 0
        assert ingest.metrics(metrics).counts()["rejected"] == 0
        assert ingest.outcomes(outcomes).counts()["rejected"] == 0
    ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda s: topic_model(s, model_hub),
        worker_id="t",
    ).drain()
