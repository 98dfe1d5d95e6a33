"""Creating, changing and deleting alert rules, each change written to the audit log; which
rules a key scoped to segments/owners may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sentiment_service.alerts.delivery import cancel_pending
from sentiment_service.alerts.rules import RuleKind, Scope, ScopeType, mask_url, url_fingerprint
from sentiment_service.audit import record_change
from sentiment_service.auth.scope import AccountScope
from sentiment_service.errors import ConflictError, NotFoundError
from sentiment_service.storage.tables import Account, AlertRule
from sentiment_service.storage.types import utcnow

ENTITY = "alert_rule"


@dataclass(frozen=True)
class RuleFields:
    """Validated fields of a rule (params already dumped from their typed model)."""

    name: str
    kind: RuleKind
    params: dict[str, Any]
    scope: Scope
    webhook_url: str
    enabled: bool


def rule_view(rule: AlertRule, *, reveal_url: bool) -> dict[str, Any]:
    """A rule as the API shows it; the webhook URL in full only when `reveal_url`."""
    return {
        "id": rule.id,
        "name": rule.name,
        "kind": rule.kind,
        "params": rule.params,
        "scope": {"type": rule.scope_type, "value": rule.scope_value},
        "webhook_url": rule.webhook_url if reveal_url else mask_url(rule.webhook_url),
        "enabled": rule.enabled,
        "created_by": rule.created_by,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
        "last_evaluated_at": rule.last_evaluated_at,
        "last_error": rule.last_error,
    }


def _audit_view(rule: AlertRule) -> dict[str, Any]:
    view = rule_view(rule, reveal_url=False)
    view["webhook_url_sha256"] = url_fingerprint(rule.webhook_url)
    for name in ("created_at", "updated_at", "last_evaluated_at"):
        view[name] = view[name].isoformat() if view[name] else None
    return view


def _unique_name(session: Session, name: str, rule_id: int | None = None) -> None:
    query = select(AlertRule.id).where(AlertRule.name == name)
    if rule_id is not None:
        query = query.where(col(AlertRule.id) != rule_id)
    if session.exec(query).first() is not None:
        raise ConflictError(f"an alert rule named {name!r} exists", field="name")


def _flush(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:  # a concurrent request took the name first
        raise ConflictError(f"an alert rule named {name!r} exists", field="name") from None


_WATCHED_COLUMN: dict[str, Any] = {
    ScopeType.SEGMENT: Account.segment,
    ScopeType.OWNER: Account.owner,
    ScopeType.ACCOUNT: Account.id,
}


def rule_visible(session: Session, rule: AlertRule, scope: AccountScope | None) -> bool:
    """Whether a caller with `scope` (None: unrestricted) may see `rule`: a rule over all
    accounts always; a rule over a segment, owner or account id when it watches at least
    one account in scope (so a scoped key never learns of accounts outside it)."""
    if scope is None or rule.scope_type == ScopeType.ALL:
        return True
    column = _WATCHED_COLUMN.get(rule.scope_type)
    if column is None or rule.scope_value is None:
        return False
    query = select(Account.id).where(col(column) == rule.scope_value, scope.account_condition())
    return session.exec(query.limit(1)).first() is not None


def visible_rules(session: Session, scope: AccountScope | None = None) -> list[AlertRule]:
    """Every rule `scope` may see (see `rule_visible`), oldest first."""
    rules = session.exec(select(AlertRule).order_by(col(AlertRule.id))).all()
    return [rule for rule in rules if rule_visible(session, rule, scope)]


def get_rule(session: Session, rule_id: int, scope: AccountScope | None = None) -> AlertRule:
    """A rule by id, or NotFoundError (also for a rule `scope` may not see)."""
    rule = session.get(AlertRule, rule_id)
    if rule is None or not rule_visible(session, rule, scope):
        raise NotFoundError(f"alert rule {rule_id} does not exist", field="rule_id")
    return rule


def create_rule(session: Session, fields: RuleFields, *, actor: str) -> AlertRule:
    """Store a new rule."""
    _unique_name(session, fields.name)
    rule = AlertRule(
        name=fields.name,
        kind=fields.kind.value,
        params=fields.params,
        scope_type=fields.scope.type.value,
        scope_value=fields.scope.value,
        webhook_url=fields.webhook_url,
        enabled=fields.enabled,
        created_by=actor,
    )
    session.add(rule)
    _flush(session, fields.name)
    record_change(
        session,
        actor=actor,
        action="alert_rule.create",
        entity_type=ENTITY,
        entity_id=str(rule.id),
        before=None,
        after=_audit_view(rule),
    )
    return rule


def update_rule(session: Session, rule_id: int, fields: RuleFields, *, actor: str) -> AlertRule:
    """Replace a rule's fields (its id, creator and event history stay)."""
    rule = get_rule(session, rule_id)
    before = _audit_view(rule)
    _unique_name(session, fields.name, rule_id)
    rule.name = fields.name
    rule.kind = fields.kind.value
    rule.params = fields.params
    rule.scope_type = fields.scope.type.value
    rule.scope_value = fields.scope.value
    rule.webhook_url = fields.webhook_url
    rule.enabled = fields.enabled
    rule.updated_at = utcnow()
    session.add(rule)
    _flush(session, fields.name)
    record_change(
        session,
        actor=actor,
        action="alert_rule.update",
        entity_type=ENTITY,
        entity_id=str(rule_id),
        before=before,
        after=_audit_view(rule),
    )
    return rule


def delete_rule(session: Session, rule_id: int, *, actor: str) -> AlertRule:
    """Delete a rule; its events stay (without a rule) and undelivered ones are cancelled."""
    rule = get_rule(session, rule_id)
    before = _audit_view(rule)
    cancel_pending(session, rule_id)
    session.delete(rule)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="alert_rule.delete",
        entity_type=ENTITY,
        entity_id=str(rule_id),
        before=before,
        after=None,
    )
    return rule
