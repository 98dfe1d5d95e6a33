"""Rule evaluation on constructed data: each kind fires, scopes apply, keys are stable."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import func, select

from sentiment_service.alerts.evaluate import Condition, evaluate_rule
from sentiment_service.alerts.service import evaluate_rules
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AlertEvent, AlertRule
from sentiment_service.storage.types import utcnow
from tests.alerts.conftest import (
    add_account,
    add_health,
    add_mention,
    add_message,
    add_rollup,
    add_rule,
    ago,
    noon,
    today,
)


def _conditions(
    database: Database, rule: AlertRule, as_of: datetime | None = None
) -> list[Condition]:
    with database.session() as session:
        return evaluate_rule(session, rule, as_of or utcnow())


def _events(database: Database) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(AlertEvent)).one()


def test_negative_share_streak_fires_once_keyed_by_its_first_day(database: Database) -> None:
    day = today()
    with database.session() as session:
        for account in ("acme", "calm", "other"):
            add_account(session, account, segment="smb" if account == "other" else "enterprise")
        for offset, negative in ((3, 6), (2, 7), (1, 8), (0, 9)):
            add_rollup(session, "acme", day - ago(offset), negative=negative)
        add_rollup(session, "acme", day - ago(9), negative=9)  # an old one-day blip
        for offset in range(4):  # two bad days, then one under the threshold: no streak
            add_rollup(session, "calm", day - ago(offset), negative=(9, 9, 3, 9)[offset])
        for offset in range(4):  # a streak, but outside the rule's segment
            add_rollup(session, "other", day - ago(offset), negative=9)
    rule = add_rule(
        database, "negative_share", scope_type="segment", scope_value="enterprise",
        threshold=0.5, days=3, min_messages=5,
    )  # fmt: skip
    [condition] = _conditions(database, rule)
    start = (day - ago(3)).isoformat()
    assert condition.account_id == "acme"
    assert condition.dedupe_key == f"rule:{rule.id}:negative_share:acme:{start}"
    assert condition.details["days"] == 4 and condition.details["daily_negative_share"][0] == 0.6
    assert "4 consecutive days" in condition.summary
    assert [o.new_events for o in evaluate_rules(database, utcnow())] == [1]
    assert [o.new_events for o in evaluate_rules(database, utcnow())] == [0]  # no duplicate
    assert _events(database) == 1


def test_negative_share_needs_enough_messages_and_a_recent_end(database: Database) -> None:
    day = today()
    with database.session() as session:
        add_account(session, "thin")
        add_account(session, "past")
        for offset in range(3):
            add_rollup(session, "thin", day - ago(offset), scored=2, negative=2)
            add_rollup(session, "past", day - ago(20 + offset), negative=9)
    rule = add_rule(database, "negative_share", threshold=0.5, days=3, min_messages=3)
    assert _conditions(database, rule) == []


def test_sentiment_drop_fires_with_a_key_that_stays_while_the_drop_lasts(
    database: Database,
) -> None:
    end = today() - ago(2)
    with database.session() as session:
        add_account(session, "acme")
        add_account(session, "steady")
        for offset in range(60):
            day = end - ago(offset)
            add_rollup(session, "acme", day, scored=2, mean=-0.2 if offset < 30 else 0.5)
            add_rollup(session, "steady", day, scored=2, mean=0.3)
    rule = add_rule(database, "sentiment_drop", drop=0.3, window_days=30, min_messages=5)
    [first] = _conditions(database, rule, noon(end))
    assert first.account_id == "acme"
    assert first.details["mean_recent"] == -0.2 and first.details["mean_before"] == 0.5
    assert first.details["drop"] == 0.7
    [next_day] = _conditions(database, rule, noon(end + ago(1)))
    assert next_day.dedupe_key == first.dedupe_key  # the same episode, not a new alert
    strict = add_rule(database, "sentiment_drop", drop=0.8, window_days=30, min_messages=5)
    assert _conditions(database, strict, noon(end)) == []


def test_competitor_mentions_learned_after_the_rule_each_alert_once(database: Database) -> None:
    now = utcnow()
    with database.session() as session:
        add_account(session, "acme")
        old = add_message(session, "acme", now - ago(3), ingested_at=now - ago(3))
        add_mention(session, old, "Rivalry", "evaluating")  # known before the rule existed
    rule = add_rule(database, "competitor_mentioned")
    evaluating = add_rule(database, "competitor_mentioned", evaluating_only=True)
    with database.session() as session:
        first = add_message(session, "acme", now - ago(1))
        add_mention(session, first, "Rivalry", "evaluating", sentence=0)
        add_mention(session, first, "Rivalry", "mention", sentence=2)  # same message: one alert
        second = add_message(session, "acme", now - ago(1))
        add_mention(session, second, "OtherCo", "mention")
        stale = add_message(session, "acme", now - ago(60))  # backfilled history
        add_mention(session, stale, "OtherCo", "evaluating")
    found = _conditions(database, rule)
    assert sorted((c.details["competitor"], c.details["intent"]) for c in found) == [
        ("OtherCo", "mention"),
        ("Rivalry", "evaluating"),
    ]
    assert {c.dedupe_key for c in found} == {
        f"rule:{rule.id}:competitor_mentioned:acme:{first.id}:Rivalry",
        f"rule:{rule.id}:competitor_mentioned:acme:{second.id}:OtherCo",
    }
    [only] = _conditions(database, evaluating)
    assert only.details["competitor"] == "Rivalry" and "is evaluating" in only.summary
    assert sum(o.new_events for o in evaluate_rules(database, utcnow())) == 3
    assert sum(o.new_events for o in evaluate_rules(database, utcnow())) == 0


def test_band_fell_compares_the_two_latest_scores(database: Database) -> None:
    day = today()
    with database.session() as session:
        for account in ("falls", "rises", "new", "stale"):
            add_account(session, account)
        add_health(session, "falls", day - ago(14), "healthy", 80)
        add_health(session, "falls", day - ago(7), "neutral", 55)
        add_health(session, "falls", day, "at_risk", 20)
        add_health(session, "rises", day - ago(7), "at_risk", 20)
        add_health(session, "rises", day, "healthy", 75)
        add_health(session, "new", day, "at_risk", 10)
        add_health(session, "stale", day - ago(60), "healthy", 90)
        add_health(session, "stale", day - ago(40), "at_risk", 10)
    rule = add_rule(database, "band_fell", scorecard="churn_risk")
    [condition] = _conditions(database, rule)
    assert condition.account_id == "falls"
    assert condition.details["from_band"] == "neutral" and condition.details["to_band"] == "at_risk"
    assert condition.dedupe_key.endswith(f":churn_risk:{day.isoformat()}:neutral>at_risk")
    only_risk = add_rule(database, "band_fell", to_bands=["neutral"])
    assert _conditions(database, only_risk) == []
    assert [o.new_events for o in evaluate_rules(database, utcnow())] == [1, 0]
    assert [o.new_events for o in evaluate_rules(database, utcnow())] == [0, 0]


def test_data_dark_names_the_channel_and_when_it_was_last_seen(database: Database) -> None:
    now = utcnow()
    with database.session() as session:
        add_account(session, "acme", owner="Priya")
        add_account(session, "elsewhere", owner="Sam")
        for offset in range(40, 100, 2):
            add_message(session, "acme", now - ago(offset), source="ticket")
            add_message(session, "elsewhere", now - ago(offset), source="ticket")
        for offset in range(1, 100, 3):
            add_message(session, "acme", now - ago(offset), source="chat")
    rule = add_rule(database, "data_dark", scope_type="owner", scope_value="Priya")
    [condition] = _conditions(database, rule)
    last_seen = now - ago(40)
    assert condition.account_id == "acme" and condition.details["source"] == "ticket"
    assert condition.dedupe_key == (f"rule:{rule.id}:data_dark:acme:ticket:{last_seen.isoformat()}")
    assert condition.details["days_silent"] >= 40
    chats_only = add_rule(database, "data_dark", sources=["chat"])
    assert _conditions(database, chats_only) == []


def test_a_failing_rule_is_reported_and_the_others_still_run(database: Database) -> None:
    with database.session() as session:
        add_account(session, "acme")
        add_health(session, "acme", today() - timedelta(days=1), "healthy", 90)
        add_health(session, "acme", today(), "at_risk", 10)
    broken = add_rule(database, "band_fell", threshold=3)  # not a band_fell parameter
    working = add_rule(database, "band_fell")
    outcomes = {o.rule_id: o for o in evaluate_rules(database, utcnow())}
    assert "threshold" in (outcomes[broken.id or 0].error or "")
    assert outcomes[working.id or 0].new_events == 1
    with database.session() as session:
        stored = session.get(AlertRule, broken.id)
        assert stored is not None and stored.last_error and stored.last_evaluated_at is not None


def test_rules_without_accounts_in_scope_find_nothing(database: Database) -> None:
    rule = add_rule(database, "negative_share", scope_type="account", scope_value="nobody")
    assert _conditions(database, rule) == []
