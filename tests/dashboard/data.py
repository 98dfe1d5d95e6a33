"""A small scored dataset for the dashboard: four accounts in two segments with two owners,
messages from several channels over two months, a few metrics and outcomes, scored by the
real models and health-scored on two days."""

from __future__ import annotations

from datetime import date, timedelta

from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.scoring import ScoringWorker
from pipelines.topics import active_taxonomy
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.health.service import score_day
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from tests.factories import message, metric

DAY = date(2026, 10, 31)
ACCOUNTS = {
    "northwind": ("Northwind Traders", "enterprise", "Ada Lovelace"),
    "globex": ("Globex Corporation", "enterprise", "Grace Hopper"),
    "initech": ("Initech", "smb", "Ada Lovelace"),
    "umbrella": ("Umbrella Health", "smb", "Grace Hopper"),
}
EARLY_HAPPY = [
    ("ticket", "The new dashboards are great, thanks for the quick setup."),
    ("chat", "Support answered within minutes, really helpful."),
    ("survey", "Very happy with the product so far."),
]
LATE_UNHAPPY = [
    ("ticket", "Third outage this week, this is unacceptable."),
    ("chat", "We are looking at Quorvo, they are cheaper and actually work."),
    ("ticket", "Still no answer on my ticket, very disappointed."),
    ("survey", "The invoices are wrong again and billing does not reply."),
]
LATE_HAPPY = [
    ("ticket", "Thanks, the export works perfectly now."),
    ("chat", "Love the new reports, the team uses them every day."),
    ("survey", "Great support and a reliable product."),
]
# account -> (early texts, late texts, logins before, logins after, outcome)
PLAN = {
    "northwind": (EARLY_HAPPY, LATE_UNHAPPY, 120, 50, "churned"),
    "globex": (EARLY_HAPPY, LATE_HAPPY, 90, 100, "renewed"),
    "initech": (LATE_UNHAPPY, LATE_HAPPY, 40, 45, "renewed"),
    "umbrella": (EARLY_HAPPY, LATE_UNHAPPY, 70, 30, "churned"),
}


def load(database: Database, model_hub: ModelHub) -> None:
    """Ingest, score and health-score the dataset."""
    records, metrics, outcomes = [], [], []
    for account, (early, late, before, after, outcome) in PLAN.items():
        for phase, (texts, first_day) in enumerate(((early, 1), (late, 10))):
            for i, (source, text) in enumerate(texts):
                month = 9 + phase
                records.append(
                    message(
                        f"{account}-{phase}-{i}",
                        account_id=account,
                        source=source,
                        source_system={"ticket": "zendesk", "chat": "intercom"}.get(
                            source, "surveys"
                        ),
                        thread_id=f"{account}-{phase}-{i}",
                        text=f"{text} ({ACCOUNTS[account][0]})",
                        created_at=f"2026-{month:02d}-{first_day + 4 * i:02d}T10:00:00Z",
                    )
                )
        metrics += [
            metric("logins", before, account_id=account, observed_at="2026-09-28T00:00:00Z"),
            metric("logins", after, account_id=account, observed_at="2026-10-26T00:00:00Z"),
        ]
        outcomes.append({"account_id": account, "outcome": outcome, "occurred_on": "2026-11-20"})
    with database.session() as session:
        for account, (name, segment, owner) in ACCOUNTS.items():
            upsert_account(
                session, account, AccountIn(name=name, segment=segment, owner=owner), actor="t"
            )
        ingest = Ingestor(session, IngestPolicy(), channel="t", actor="t")
        assert ingest.messages(records).counts()["rejected"] == 0
        assert ingest.metrics(metrics).counts()["rejected"] == 0
        assert ingest.outcomes(outcomes).counts()["rejected"] == 0
    ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda s: model_hub.topic_assigner(active_taxonomy(s)[0]),
        worker_id="t",
    ).drain()
    with database.session() as session:
        score_day(session, DAY - timedelta(days=20), basis="event")
        score_day(session, DAY, basis="event")
