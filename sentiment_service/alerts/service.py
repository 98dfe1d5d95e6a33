"""Alert runs: evaluate enabled rules, store new conditions as events, deliver pending events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from pipelines.row_ids import stored_id
from sentiment_service.alerts.delivery import (
    PENDING,
    Attempt,
    DeliveryPolicy,
    DeliverySummary,
    WebhookSender,
    deliver_pending,
)
from sentiment_service.alerts.evaluate import Condition, evaluate_rule
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AlertEvent, AlertRule
from sentiment_service.storage.types import utcnow

log = structlog.get_logger(__name__)
MAX_RULE_ERROR_CHARS = 1000


@dataclass
class RuleOutcome:
    """What evaluating one rule found."""

    rule_id: int
    name: str
    kind: str
    conditions: int = 0
    new_events: int = 0
    error: str | None = None


@dataclass
class RunSummary:
    """What one alert run did: per-rule findings and the delivery counts."""

    as_of: datetime
    rules: list[RuleOutcome] = field(default_factory=list)
    delivery: DeliverySummary = field(default_factory=DeliverySummary)
    pending: int = 0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary with totals."""
        return {
            "as_of": self.as_of.isoformat(),
            "rules_evaluated": len(self.rules),
            "rules_failed": sum(r.error is not None for r in self.rules),
            "conditions": sum(r.conditions for r in self.rules),
            "new_events": sum(r.new_events for r in self.rules),
            "delivered": self.delivery.delivered,
            "failed": self.delivery.failed,
            "skipped": self.delivery.skipped,
            "attempts": self.delivery.attempts,
            "attempts_by_status": dict(sorted(self.delivery.by_status.items())),
            "pending": self.pending,
            "rules": [asdict(r) for r in self.rules],
        }


def record_events(
    session: Session, rule: AlertRule, conditions: list[Condition], as_of: datetime
) -> int:
    """Store conditions as pending events; those whose dedupe key exists are left out.
    Returns how many were new (safe against a concurrent run storing the same key)."""
    if not conditions:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    created = 0
    for condition in conditions:
        statement = (
            insert(AlertEvent)
            .values(
                rule_id=rule.id,
                kind=rule.kind,
                account_id=condition.account_id,
                dedupe_key=condition.dedupe_key,
                summary=condition.summary,
                details=condition.details,
                as_of=as_of,
                created_at=now,
                status=PENDING,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(col(AlertEvent.id))
        )
        created += session.execute(statement).first() is not None
    return created


def evaluate_rules(
    database: Database, as_of: datetime, rule_ids: list[int] | None = None
) -> list[RuleOutcome]:
    """Evaluate enabled rules (one transaction each); a rule that fails is reported, and the
    others still run. Database errors propagate."""
    with database.session() as session:
        query = select(AlertRule.id).where(col(AlertRule.enabled).is_(True))
        if rule_ids is not None:
            query = query.where(col(AlertRule.id).in_(rule_ids))
        ids = list(session.exec(query.order_by(col(AlertRule.id))).all())
    outcomes = []
    for stored in ids:
        rule_id = stored_id(stored, "alert rule")
        with database.session() as session:
            rule = session.get(AlertRule, rule_id)
            if rule is None or not rule.enabled:
                continue
            outcome = RuleOutcome(rule_id, rule.name, rule.kind)
            try:
                conditions = evaluate_rule(session, rule, as_of)
            except SQLAlchemyError:
                raise
            except Exception as error:  # a rule's own problem must not stop the other rules
                log.exception("alert_rule_failed", rule_id=rule_id, kind=rule.kind)
                outcome.error = f"{type(error).__name__}: {error}"[:MAX_RULE_ERROR_CHARS]
                conditions = []
            outcome.conditions = len(conditions)
            outcome.new_events = record_events(session, rule, conditions, as_of)
            rule.last_evaluated_at = as_of
            rule.last_error = outcome.error
            session.add(rule)
            outcomes.append(outcome)
    return outcomes


def count_pending(database: Database) -> int:
    """Events still waiting for delivery."""
    with database.session() as session:
        return session.exec(
            select(func.count(col(AlertEvent.id))).where(AlertEvent.status == PENDING)
        ).one()


def run_once(
    database: Database,
    policy: DeliveryPolicy,
    *,
    as_of: datetime | None = None,
    deliver: bool = True,
    sender: WebhookSender | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> RunSummary:
    """Evaluate every enabled rule at `as_of` (default now), then deliver pending events."""
    moment = as_of or utcnow()
    summary = RunSummary(as_of=moment)
    summary.rules = evaluate_rules(database, moment)
    if deliver:
        summary.delivery = deliver_pending(database, policy, sender=sender, on_attempt=on_attempt)
    summary.pending = count_pending(database)
    log.info("alerts_run", **{k: v for k, v in summary.as_json().items() if k != "rules"})
    return summary
