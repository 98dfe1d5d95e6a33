"""The alert logs, newest first and paged by id: the events (alerts found by rules, with where
their delivery stands) and the webhook delivery attempts. A caller with a scope (a key scoped
to segments/owners) sees only the entries of accounts in that scope."""

from __future__ import annotations

from sqlmodel import Session, col, select

from sentiment_service.auth.scope import AccountScope, restrict_account_ids
from sentiment_service.storage.tables import AlertDelivery, AlertEvent


def list_events(
    session: Session,
    scope: AccountScope | None,
    *,
    rule_id: int | None = None,
    account_id: str | None = None,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> tuple[list[AlertEvent], bool]:
    """Up to `limit` events with ids below `cursor`, newest first, filtered by rule, account
    and delivery status; and whether more follow."""
    query = select(AlertEvent).order_by(col(AlertEvent.id).desc()).limit(limit + 1)
    query = restrict_account_ids(query, col(AlertEvent.account_id), scope)
    if rule_id is not None:
        query = query.where(AlertEvent.rule_id == rule_id)
    if account_id is not None:
        query = query.where(AlertEvent.account_id == account_id)
    if status is not None:
        query = query.where(AlertEvent.status == status)
    if cursor is not None:
        query = query.where(col(AlertEvent.id) < cursor)
    rows = list(session.exec(query).all())
    return rows[:limit], len(rows) > limit


def list_deliveries(
    session: Session,
    scope: AccountScope | None,
    *,
    event_id: int | None = None,
    rule_id: int | None = None,
    ok: bool | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> tuple[list[AlertDelivery], bool]:
    """Up to `limit` delivery attempts with ids below `cursor`, newest first, filtered by
    event, rule and success; and whether more follow."""
    query = select(AlertDelivery).order_by(col(AlertDelivery.id).desc()).limit(limit + 1)
    if scope is not None:
        visible_events = restrict_account_ids(
            select(AlertEvent.id), col(AlertEvent.account_id), scope
        )
        query = query.where(col(AlertDelivery.event_id).in_(visible_events))
    if event_id is not None:
        query = query.where(AlertDelivery.event_id == event_id)
    if rule_id is not None:
        query = query.where(AlertDelivery.rule_id == rule_id)
    if ok is not None:
        query = query.where(AlertDelivery.ok == ok)
    if cursor is not None:
        query = query.where(col(AlertDelivery.id) < cursor)
    rows = list(session.exec(query).all())
    return rows[:limit], len(rows) > limit
