"""Issue 19: an account's health is read in a fixed number of statements (no N+1 over
scorecards, overrides or evidence components), and a cached answer in fewer still."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import event

from sentiment_service import config_store
from sentiment_service.health import evidence
from sentiment_service.health.account_health import health_of
from sentiment_service.health.calibrate import CALIBRATION_KIND
from sentiment_service.health.service import (
    get_scorecard,
    save_scorecard,
    score_day,
    without_kinds,
)
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.health.data import DAY

# keys of the scorecards, the scorecards in force, the latest records, their overrides, their
# calibrations, the evidence quotes of all components, the dark channels
HEALTH_STATEMENTS = 7
# the account's visibility and the answer's facts (ETag) come first
ROUTE_STATEMENTS = 2
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


@contextmanager
def counted(database: Database) -> Iterator[list[str]]:
    """The SQL statements run on `database` inside the block (not BEGIN / COMMIT)."""
    statements: list[str] = []

    def record(*args: object) -> None:
        statement = str(args[2])
        if statement.split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def _more_of_everything(client: TestClient, admin: dict[str, str], database: Database) -> None:
    """A third scorecard with its scores, an override in force and a calibration."""
    with database.session() as session:
        churn = get_scorecard(session, "churn_risk")
        assert churn is not None
        save_scorecard(
            session, without_kinds(churn.card, {"metric"}, "talk_only"), author="t", reason="t"
        )
        session.commit()
        score_day(session, DAY, basis="event")
        config_store.save_version(
            session,
            kind=CALIBRATION_KIND,
            key="churn_risk",
            body={
                "scorecard_version": churn.version,
                "intercept": -1.0,
                "slope": -0.02,
                "n": 40,
                "positives": 9,
                "outcome": "churned",
                "horizon_days": 90,
                "fitted_at": "2026-11-01T00:00:00+00:00",
            },
            author="t",
            reason="t",
        )
        session.commit()
    expires = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    override = {
        "scorecard": "churn_risk",
        "band": "healthy",
        "reason": "signed",
        "expires_at": expires,
    }
    created = client.post("/v1/accounts/sad-1/overrides", json=override, headers=admin)
    assert created.status_code == 201, created.text


def test_health_statements_do_not_grow_with_scorecards_or_components(
    client: TestClient, keys: dict[Role, str], scored: Database
) -> None:
    now = datetime.now(UTC)
    with scored.session() as session:
        health_of(session, "sad-1", now)  # the shipped scorecards are stored once
    with scored.session() as session, counted(scored) as statements:
        before = health_of(session, "sad-1", now)
    assert len(statements) == HEALTH_STATEMENTS, statements
    quoted = sum(1 for s in before.scores for c in s.components if "evidence_messages" in c)
    assert len(before.scores) == 2 and quoted >= 4

    _more_of_everything(client, auth(keys[Role.ADMIN]), scored)
    with scored.session() as session, counted(scored) as statements:
        after = health_of(session, "sad-1", datetime.now(UTC))
    assert len(statements) == HEALTH_STATEMENTS, statements
    churn = next(s for s in after.scores if s.scorecard == "churn_risk")
    assert len(after.scores) == 3 and churn.source == "override" and churn.override is not None
    assert churn.outcome_probability is not None
    quoted_after = sum(1 for s in after.scores for c in s.components if "evidence_messages" in c)
    assert quoted_after > quoted


def test_health_route_miss_and_hit_statements(
    client: TestClient, keys: dict[Role, str], scored: Database
) -> None:
    headers = auth(keys[Role.VIEWER])
    assert client.get("/v1/accounts/happy-1/health", headers=headers).status_code == 200
    with counted(scored) as miss:
        first = client.get("/v1/accounts/sad-1/health", headers=headers)
    with counted(scored) as hit:
        second = client.get("/v1/accounts/sad-1/health", headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    # the verified key is trusted for a moment, so at most one statement authenticates
    assert (
        ROUTE_STATEMENTS + HEALTH_STATEMENTS
        <= len(miss)
        <= ROUTE_STATEMENTS + HEALTH_STATEMENTS + 1
    )
    assert ROUTE_STATEMENTS <= len(hit) <= ROUTE_STATEMENTS + 1


def test_the_evidence_statement_is_built_once_per_scorecard_set(scored: Database) -> None:
    """Building the evidence statement costs more than running it: accounts scored under the
    same scorecards reuse one built statement."""
    now = datetime.now(UTC)
    with scored.session() as session:
        health_of(session, "sad-1", now)
    built = evidence._evidence_statement.cache_info()
    with scored.session() as session:
        for account in ("sad-1", "happy-1", "sad-1"):
            assert health_of(session, account, now).scores
    again = evidence._evidence_statement.cache_info()
    assert again.misses == built.misses and again.hits >= built.hits + 3
