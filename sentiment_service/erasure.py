"""Right to erasure: remove an account's messages, metrics and everything derived from them.

Deletes, in one transaction: the messages and what hangs off them (scores, topics, competitor
mentions, corrections, queue rows), metrics, outcomes, rollups, feature snapshots, health
scores, overrides, alert events and their deliveries, contacts, vendor ids and the account row
itself. The audit log records who erased which account and how many rows of each kind went,
never their content. Not touched: quarantined records (refused input, kept for review and
purged with the quarantine) and rows of labelled sets uploaded by analysts (not tied to
accounts).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from sentiment_service.audit import record_change
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    AccountExternalId,
    AccountOutcome,
    AlertDelivery,
    AlertEvent,
    CompetitorMention,
    Contact,
    FeatureSnapshot,
    HealthOverride,
    HealthScoreRecord,
    LabelCorrection,
    Message,
    MessageScore,
    MessageTopic,
    Metric,
    ScoringQueueItem,
    TopicCorrection,
)

MESSAGE_CHILDREN = (
    MessageScore,
    MessageTopic,
    CompetitorMention,
    LabelCorrection,
    TopicCorrection,
    ScoringQueueItem,
)
ACCOUNT_CHILDREN = (
    Metric,
    AccountOutcome,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    FeatureSnapshot,
    HealthScoreRecord,
    HealthOverride,
    Contact,
    AccountExternalId,
)


def erase_account(session: Session, account_id: str, *, actor: str) -> dict[str, int] | None:
    """Delete the account and all its data; rows removed per table (None: no such account)."""
    if session.get(Account, account_id) is None:
        return None
    removed: dict[str, int] = {}
    message_ids = list(
        session.exec(select(Message.id).where(Message.account_id == account_id)).all()
    )
    for start in range(0, len(message_ids), 5000):
        chunk = message_ids[start : start + 5000]
        for table in MESSAGE_CHILDREN:
            result = session.exec(delete(table).where(col(table.message_id).in_(chunk)))
            removed[table.__tablename__] = removed.get(table.__tablename__, 0) + result.rowcount
    removed["messages"] = session.exec(
        delete(Message).where(col(Message.account_id) == account_id)
    ).rowcount
    event_ids = list(
        session.exec(select(AlertEvent.id).where(AlertEvent.account_id == account_id)).all()
    )
    if event_ids:
        removed["alert_deliveries"] = session.exec(
            delete(AlertDelivery).where(col(AlertDelivery.event_id).in_(event_ids))
        ).rowcount
    removed["alert_events"] = session.exec(
        delete(AlertEvent).where(col(AlertEvent.account_id) == account_id)
    ).rowcount
    for account_table in ACCOUNT_CHILDREN:
        removed[account_table.__tablename__] = session.exec(
            delete(account_table).where(col(account_table.account_id) == account_id)
        ).rowcount
    removed["accounts"] = session.exec(
        delete(Account).where(col(Account.id) == account_id)
    ).rowcount
    record_change(
        session,
        actor=actor,
        action="account.erase",
        entity_type="account",
        entity_id=account_id,
        before={"rows": {name: count for name, count in removed.items() if count}},
        after=None,
    )
    return removed
