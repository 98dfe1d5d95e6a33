"""A portfolio for read benchmarks: many accounts with messages, scores, topics, metrics,
daily rollups and stored health scores, written in bulk (no models run).

Messages are the bundled sample texts (each tagged so none is a duplicate), spread over the
last HISTORY_DAYS days; each gets a synthetic score under SEED_MODEL_VERSION, which becomes the
active version. Rollups are rebuilt with `pipelines.rollups.rebuild_all`, and health scores are
computed by the real scoring run (`score_range`) for the last data day and one 30 days earlier
(so scores have drivers and 30-day changes). A PipelineState row records the seed, so a later
run on the same database reuses it instead of writing everything again.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlmodel import Session, col, select

from pipelines.queue import set_active_version
from pipelines.rollups import rebuild_all
from pipelines.topics import load_taxonomy
from sentiment_service.health.runs import data_end, score_range
from sentiment_service.sample_loader import SAMPLE_DIR
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    Message,
    MessageScore,
    MessageTopic,
    Metric,
    PipelineState,
)

SEED_KEY = "read_seed"  # PipelineState row: what was seeded
SEED_MODEL_VERSION = "read-seed-synthetic"
SEED_TOPIC_VERSION = "read-seed-topics"
HISTORY_DAYS = 90
SEGMENTS = ("enterprise", "mid_market", "smb")
OWNERS = tuple(f"owner{n}@example.com" for n in range(1, 9))
METRIC_EVERY_DAYS = 7
CHUNK = 5000


@dataclass(frozen=True)
class SeedSummary:
    """What the seed wrote (or found already written)."""

    accounts: int
    messages: int
    reused: bool
    seconds: float


def account_ids(count: int) -> list[str]:
    """The seeded accounts' ids."""
    return [f"rs-{n:05d}" for n in range(1, count + 1)]


def _templates() -> list[dict[str, Any]]:
    lines = (SAMPLE_DIR / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _synthetic_score(rng: random.Random) -> tuple[str, float, tuple[float, float, float]]:
    """A label, a score in [-1, 1] and class probabilities that agree with each other."""
    negative, positive = rng.random() * 0.8, rng.random() * 0.8
    total = negative + positive + 0.2
    p_neg, p_pos = negative / total, positive / total
    p_neu = 1.0 - p_neg - p_pos
    label = max((("negative", p_neg), ("neutral", p_neu), ("positive", p_pos)), key=lambda x: x[1])[
        0
    ]
    return label, round(p_pos - p_neg, 4), (p_neg, p_neu, p_pos)


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[start : start + CHUNK])


def _write_accounts(session: Session, ids: list[str], now: datetime) -> None:
    rows = [
        {
            "id": account_id,
            "name": f"Read Seed {account_id}",
            "segment": SEGMENTS[n % len(SEGMENTS)],
            "industry": "software",
            "tier": "gold" if n % 5 == 0 else "standard",
            "arr": float(10_000 + (n * 7919) % 500_000),
            "renewal_date": (now + timedelta(days=30 + n % 300)).date(),
            "owner": OWNERS[n % len(OWNERS)],
            "created_at": now,
            "updated_at": now,
        }
        for n, account_id in enumerate(ids)
    ]
    _insert(session, Account, rows)


def _write_messages(
    session: Session, ids: list[str], per_account: int, now: datetime, rng: random.Random
) -> list[tuple[int, str]]:
    """Insert the messages; returns (id, author role) of each, for scores and topics."""
    templates = _templates()
    rows = []
    for account_id in ids:
        for n in range(per_account):
            template = rng.choice(templates)
            text = f"[{account_id}-{n}] {template['text']}"
            created = now - timedelta(seconds=rng.uniform(600, HISTORY_DAYS * 86400))
            rows.append(
                {
                    "source": template["source"],
                    "source_system": "read-seed",
                    "external_id": f"{account_id}-{n}",
                    "account_id": account_id,
                    "author_role": template["author_role"],
                    "text": text,
                    "created_at": created,
                    "ingested_at": created,
                    "updated_at": created,
                    "language": template["language"],
                    "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                    "thread_id": template["thread_id"],
                    "redactions": 0,
                }
            )
    _insert(session, Message, rows)
    stored = session.exec(
        select(Message.id, Message.author_role).where(Message.source_system == "read-seed")
    ).all()
    return [(int(message_id), role) for message_id, role in stored if message_id is not None]


def _write_scores_and_topics(
    session: Session, messages: list[tuple[int, str]], now: datetime, rng: random.Random
) -> None:
    topics = [topic.key for topic in load_taxonomy().all_topics()]
    scores, mentions = [], []
    for message_id, role in messages:
        label, score, (p_neg, p_neu, p_pos) = _synthetic_score(rng)
        scores.append(
            {
                "message_id": message_id,
                "model_version": SEED_MODEL_VERSION,
                "status": "ok",
                "label": label,
                "score": score,
                "p_negative": p_neg,
                "p_neutral": p_neu,
                "p_positive": p_pos,
                "aggregation": "mean",
                "scored_at": now,
            }
        )
        if role == "customer" and rng.random() < 0.6:
            mentions.append(
                {
                    "message_id": message_id,
                    "model_version": SEED_TOPIC_VERSION,
                    "topic": rng.choice(topics),
                    "confidence": 0.8,
                    "sentence_index": 0,
                    "evidence": "seeded",
                    "sentence_count": 1,
                    "score": score,
                    "label": label,
                }
            )
    _insert(session, MessageScore, scores)
    _insert(session, MessageTopic, mentions)


def _write_metrics(session: Session, ids: list[str], now: datetime, rng: random.Random) -> None:
    rows = []
    for account_id in ids:
        seats = rng.randint(20, 800)
        for back in range(0, HISTORY_DAYS, METRIC_EVERY_DAYS):
            observed = (now - timedelta(days=back)).replace(hour=0, minute=0, second=0)
            values = {
                "logins": rng.randint(0, 3 * seats),
                "seats_purchased": seats,
                "seats_used": rng.randint(seats // 3, seats),
                "tickets_opened": rng.randint(0, 12),
                "invoices_overdue": rng.choice((0, 0, 0, 1)),
            }
            for name, value in values.items():
                rows.append(
                    {
                        "account_id": account_id,
                        "name": name,
                        "value": float(value),
                        "observed_at": observed,
                        "source": "read-seed",
                        "ingested_at": observed,
                    }
                )
    _insert(session, Metric, rows)


def seeded(session: Session) -> dict[str, Any] | None:
    """What an earlier seed of this database wrote, if any."""
    row = session.get(PipelineState, SEED_KEY)
    return None if row is None else json.loads(row.value)


def seed(
    url: str, *, accounts: int = 1000, messages_per_account: int = 24, seed_value: int = 7
) -> SeedSummary:
    """Migrate the database at `url` and seed it, unless it already holds this seed."""
    started = datetime.now(UTC)
    migrate.upgrade(url)
    database = Database(url)
    try:
        with database.session() as session:
            earlier = seeded(session)
        wanted = {"accounts": accounts, "messages_per_account": messages_per_account}
        if earlier is not None:
            if earlier != wanted:
                raise ValueError(f"the database holds another read seed: {earlier}")
            return SeedSummary(accounts, accounts * messages_per_account, True, 0.0)
        rng = random.Random(seed_value)
        now = datetime.now(UTC).replace(microsecond=0)
        ids = account_ids(accounts)
        with database.session(write=True) as session:
            _write_accounts(session, ids, now)
            stored = _write_messages(session, ids, messages_per_account, now, rng)
            _write_scores_and_topics(session, stored, now, rng)
            _write_metrics(session, ids, now, rng)
            set_active_version(session, SEED_MODEL_VERSION)
        with database.session(write=True) as session:
            rebuild_all(session, SEED_MODEL_VERSION)
        with database.session() as session:
            last = data_end(session) or now.date()
        for day in (last - timedelta(days=30), last):
            score_range(database, day, day)
        with database.session(write=True) as session:
            session.add(PipelineState(key=SEED_KEY, value=json.dumps(wanted)))
        if database.engine.dialect.name == "postgresql":  # fresh statistics for the planner
            with database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.execute(text("ANALYZE"))
        seconds = (datetime.now(UTC) - started).total_seconds()
        return SeedSummary(accounts, len(stored), False, round(seconds, 1))
    finally:
        database.dispose()


def seeded_account_ids(database: Database) -> list[str]:
    """The ids of the seeded accounts stored in `database`."""
    with database.session() as session:
        rows = session.exec(
            select(Account.id).where(col(Account.id).startswith("rs-")).order_by(col(Account.id))
        ).all()
    return list(rows)
