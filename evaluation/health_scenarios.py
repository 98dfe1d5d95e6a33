"""Health-score scenarios with known truth, run through the real path.

A scenario is a book of accounts, half of which churn, with 120 days of customer messages,
usage metrics and outcomes. What drives the churn is the scenario's choice:

- `sentiment`: churners' customers write more negative messages (and sometimes name a
  competitor) in the last two months; usage is the same noise for everyone.
- `usage`: churners' logins and seat use fall by about 55 % over the last six weeks;
  sentiment is the same mix for everyone.
- `mixed`: both, each at half strength.
- `none`: nothing differs; who churns is a coin toss (the no-signal control).

`run_scenario` sends everything through the HTTP API (accounts, messages, metrics, outcomes),
lets the scoring worker score the messages with the shipped models, computes health scores
(`basis=event`) and backtests the scorecards in force, with and without their sentiment and
topic components. Message texts come from the labelled B2B development set when
it is present (its validation split, which no shipped model trains on), otherwise from the
sample labelled messages, by label: the model reads them as
it would read a customer's.

`python -m evaluation.health_scenarios [--scenario NAME] [--accounts N] [--seed S]` prints one
JSON object with the table rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

Scenario = Literal["sentiment", "usage", "mixed", "none"]
SCENARIOS: tuple[Scenario, ...] = ("sentiment", "usage", "mixed", "none")
END = date(2026, 10, 31)  # the last day with data
HISTORY_DAYS = 120
COMPETITOR_LINES = (
    "We have started a trial with Quorvo to compare.",
    "Our finance team asked for a quote from Brightpath.",
    "Tallymark offered us a cheaper plan, we are considering it.",
)
_SAMPLE = Path(__file__).parents[1] / "sentiment_service" / "sample_data"
_LABELS = ("negative", "neutral", "positive")
# Label mix of customer messages: (negative, neutral, positive).
_BASE_MIX = (0.25, 0.45, 0.30)
_CHURN_MIX = (0.65, 0.25, 0.10)


@dataclass
class ScenarioData:
    """Everything a scenario sends to the API, and the truth."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    churners: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ScenarioResult:
    """One row of the scenario table for one scorecard."""

    scenario: str
    scorecard: str
    accounts: int
    churners: int
    auc: float | None
    auc_without_sentiment: float | None
    flagged: int
    precision: float | None
    recall: float | None
    base_rate: float
    churner_scores: list[float] = field(default_factory=list)
    other_scores: list[float] = field(default_factory=list)


def text_pool() -> dict[str, list[str]]:
    """Customer texts by label: the B2B development set's validation split when it exists.

    Not the train split: the default model is trained on it and reads those texts almost
    perfectly, which would make the scenarios' sentiment sharper than on real messages."""
    from models.sentiment.b2b_data import B2B_DEV, rows_of

    pool: dict[str, list[str]] = {label: [] for label in _LABELS}
    if B2B_DEV.exists():
        for row in rows_of("validation"):
            pool[row.label].append(row.text)
    else:
        with (_SAMPLE / "labelled_messages.csv").open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                pool[record["label"]].append(record["text"])
    return pool


def _mix(churner: bool, strength: float) -> tuple[float, float, float]:
    if not churner:
        return _BASE_MIX
    return tuple(  # type: ignore[return-value]
        base + strength * (churn - base) for base, churn in zip(_BASE_MIX, _CHURN_MIX, strict=True)
    )


def generate(scenario: Scenario, accounts: int = 40, seed: int = 7) -> ScenarioData:
    """A deterministic scenario book (see the module docstring)."""
    rng = random.Random(f"{scenario}:{accounts}:{seed}")
    pool = text_pool()
    data = ScenarioData()
    ids = [f"sc-{i:03d}" for i in range(accounts)]
    if scenario == "none":
        data.churners = set(rng.sample(ids, accounts // 2))
    else:
        data.churners = set(ids[: accounts // 2])
    sentiment_strength = {"sentiment": 1.0, "mixed": 0.5}.get(scenario, 0.0)
    usage_strength = {"usage": 1.0, "mixed": 0.5}.get(scenario, 0.0)
    start = END - timedelta(days=HISTORY_DAYS)
    for number, account_id in enumerate(ids):
        churner = account_id in data.churners
        segment = ("smb", "mid_market", "enterprise")[number % 3]
        data.accounts.append({"id": account_id, "name": f"Scenario {number}", "segment": segment})
        # Messages: a steady trickle all along; the churn signal is in the last 60 days.
        for index in range(rng.randint(36, 60)):
            day = start + timedelta(days=rng.randrange(HISTORY_DAYS))
            recent = (END - day).days < 60
            mix = _mix(churner and recent, sentiment_strength)
            label = rng.choices(_LABELS, weights=mix)[0]
            text = rng.choice(pool[label])
            if (
                churner
                and recent
                and sentiment_strength
                and rng.random() < 0.2 * sentiment_strength
            ):
                text = f"{rng.choice(COMPETITOR_LINES)} {text}"
            data.messages.append(
                {
                    "source": rng.choice(("ticket", "chat", "survey", "csm_note")),
                    "source_system": "scenario",
                    "external_id": f"{account_id}-m{index}",
                    "account_id": account_id,
                    "author_role": "customer",
                    "text": text,
                    "created_at": _at(day, rng),
                    "thread_id": f"{account_id}-t{index % 7}",
                }
            )
        # Usage: weekly logins and seats; churners fade over the last six weeks.
        seats = rng.choice((20, 50, 120, 300))
        logins = seats * rng.uniform(3.0, 6.0)
        used_share = rng.uniform(0.65, 0.95)
        for week in range(HISTORY_DAYS // 7 + 1):
            day = start + timedelta(days=7 * week)
            fade = 1.0
            days_left = (END - day).days
            if churner and usage_strength and days_left < 42:
                fade = 1.0 - 0.55 * usage_strength * (42 - days_left) / 42
            noise = rng.uniform(0.9, 1.1)
            observed = _at(day, None)
            data.metrics += [
                _metric(account_id, "logins", round(logins * fade * noise), observed),
                _metric(
                    account_id,
                    "seats_used",
                    round(seats * used_share * fade * rng.uniform(0.97, 1.03)),
                    observed,
                ),
                _metric(account_id, "seats_purchased", seats, observed, source="billing"),
                _metric(
                    account_id, "invoices_overdue", rng.choice((0, 0, 0, 1)), observed, "billing"
                ),
            ]
        outcome_day = END + timedelta(days=rng.randint(5, 25))
        data.outcomes.append(
            {
                "account_id": account_id,
                "outcome": "churned" if churner else "renewed",
                "occurred_on": outcome_day.isoformat(),
            }
        )
    return data


def _at(day: date, rng: random.Random | None) -> str:
    hour = rng.randint(8, 18) if rng else 0
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


def _metric(
    account_id: str, name: str, value: float, at: str, source: str = "product_analytics"
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "name": name,
        "value": value,
        "observed_at": at,
        "source": source,
    }


def run_scenario(
    scenario: Scenario,
    *,
    accounts: int = 40,
    seed: int = 7,
    horizon_days: int = 30,
    database_url: str | None = None,
    scorecards: Sequence[Path] = (),
) -> list[ScenarioResult]:
    """Ingest a scenario over HTTP, score and backtest it; one result per churn scorecard.
    `scorecards` (YAML/JSON files) are published over the shipped ones first, e.g. to compare
    a draft or an older version on the same book."""
    from fastapi.testclient import TestClient

    from pipelines.scoring import ScoringWorker
    from pipelines.topics import topic_model
    from sentiment_service.api.app import create_app
    from sentiment_service.auth.keys import create_key
    from sentiment_service.health.scorecard import load_scorecard
    from sentiment_service.health.service import (
        VersionedScorecard,
        active_scorecards,
        backtest_scorecard,
        save_scorecard,
        score_range,
        without_kinds,
    )
    from sentiment_service.model_hub import ModelHub
    from sentiment_service.settings import Settings
    from sentiment_service.storage import migrate
    from sentiment_service.storage.database import Database
    from sentiment_service.vocabulary import Role

    data = generate(scenario, accounts, seed)
    with tempfile.TemporaryDirectory() as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'scenario.db'}"
        migrate.upgrade(url)
        database = Database(url)
        settings = Settings(database_url=url, data_dir=Path(scratch), preload_models=False)
        hub = ModelHub()
        with database.session() as session:
            _, key = create_key(session, name="scenario", role=Role.ADMIN, created_by="scenario")
        headers = {"X-API-Key": key}
        with TestClient(create_app(settings, database, hub)) as client:
            for account in data.accounts:
                body = {k: v for k, v in account.items() if k != "id"}
                _ok(client.put(f"/v1/accounts/{account['id']}", json=body, headers=headers))
            for path, field_name, rows in (
                ("/v1/messages", "messages", data.messages),
                ("/v1/metrics", "metrics", data.metrics),
                ("/v1/outcomes", "outcomes", data.outcomes),
            ):
                for start in range(0, len(rows), 200):
                    answer = _ok(
                        client.post(
                            path, json={field_name: rows[start : start + 200]}, headers=headers
                        )
                    )
                    if answer["counts"]["rejected"]:
                        raise RuntimeError(f"{path}: rejected {answer['rejected'][:3]}")
        with database.session() as session:
            for scorecard_path in scorecards:
                save_scorecard(
                    session,
                    load_scorecard(scorecard_path),
                    author="scenario",
                    reason=f"from {scorecard_path}",
                )
        ScoringWorker(
            database, hub.scorer(), topics=lambda s: topic_model(s, hub), worker_id="scenario"
        ).drain()
        first = END - timedelta(days=horizon_days + 30)
        score_range(database, first, END, basis="event")
        results = []
        with database.session() as session:
            for versioned in active_scorecards(session):
                if versioned.card.objective != "churn_risk":
                    continue
                full = backtest_scorecard(session, versioned, horizon_days=horizon_days)
                stripped = without_kinds(versioned.card, {"sentiment", "topic"}, "bare")
                bare = backtest_scorecard(
                    session,
                    VersionedScorecard(stripped, versioned.version),
                    horizon_days=horizon_days,
                )
                r = full.result
                results.append(
                    ScenarioResult(
                        scenario=scenario,
                        scorecard=f"{versioned.card.id}@{versioned.version}",
                        accounts=r.n,
                        churners=r.n_positive,
                        auc=_round(r.auc),
                        auc_without_sentiment=_round(bare.result.auc),
                        flagged=r.n_flagged,
                        precision=_round(r.precision),
                        recall=_round(r.recall),
                        base_rate=round(r.n_positive / r.n, 3) if r.n else 0.0,
                        churner_scores=_scores(full.items, churned=True),
                        other_scores=_scores(full.items, churned=False),
                    )
                )
        database.dispose()
    return results


def _scores(items: list[Any], *, churned: bool) -> list[float]:
    return sorted(
        item.score
        for item in items
        if item.score is not None and (item.outcome == "churned") == churned
    )


def _ok(response: Any) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios and print one JSON object with the table rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument(
        "--scorecard", type=Path, action="append", default=[], help="publish this card first"
    )
    args = parser.parse_args(argv)
    rows = []
    for scenario in args.scenario or SCENARIOS:
        rows += [
            asdict(result)
            for result in run_scenario(
                scenario,
                accounts=args.accounts,
                seed=args.seed,
                horizon_days=args.horizon,
                scorecards=args.scorecard,
            )
        ]
    print(json.dumps({"scenarios": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
