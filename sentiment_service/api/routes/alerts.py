"""Alerts: rules (admins write, readers list), an on-demand run, and the event and delivery logs."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any, Literal
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from pipelines.dates import Moment
from sentiment_service.alerts import history, manage
from sentiment_service.alerts.background import BackgroundDelivery
from sentiment_service.alerts.delivery import CANCELLED, DELIVERED, PENDING, DeliveryPolicy
from sentiment_service.alerts.rules import RuleKind, Scope, WebhookUrl, parse_params
from sentiment_service.alerts.service import run_once
from sentiment_service.api.deps import Admin, DatabaseDep, Reader, SettingsDep
from sentiment_service.api.schemas import MAX_ID, Page
from sentiment_service.api.telemetry import ApiMetrics
from sentiment_service.auth.keys import Principal
from sentiment_service.auth.permissions import Permission, allows
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.tables import AlertRule
from sentiment_service.storage.types import utcnow
from sentiment_service.text_rules import NoNul

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
RuleId = Annotated[int, Path(ge=1, le=MAX_ID, description="The rule's id")]
Cursor = Annotated[int | None, Query(ge=0, le=MAX_ID, description="next_cursor of the last page")]
RuleName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul
]


class RuleIn(BaseModel):
    """A new alert rule. `params` depend on `kind` (defaults fill what is left out)."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName
    kind: RuleKind
    params: dict[str, Any] = Field(default_factory=dict)
    scope: Scope = Field(default_factory=Scope)
    webhook_url: WebhookUrl
    enabled: bool = True


class RulePatch(BaseModel):
    """Fields to change; `params` are merged into the current ones unless `kind` changes."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName | None = None
    kind: RuleKind | None = None
    params: dict[str, Any] | None = None
    scope: Scope | None = None
    webhook_url: WebhookUrl | None = None
    enabled: bool | None = None


class ScopeOut(BaseModel):
    """Which accounts a rule watches."""

    type: str
    value: str | None


class RuleOut(BaseModel):
    """A rule; the webhook URL is shown whole to admins only (it usually holds a token)."""

    id: int
    name: str
    kind: str
    params: dict[str, Any]
    scope: ScopeOut
    webhook_url: str
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None
    last_error: str | None


class EventOut(BaseModel):
    """An alert: one condition found by a rule, and where its delivery stands."""

    id: int
    rule_id: int | None
    kind: str
    account_id: str
    dedupe_key: str
    summary: str
    details: dict[str, Any]
    as_of: datetime
    created_at: datetime
    status: str
    attempts: int
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryOut(BaseModel):
    """One webhook delivery attempt."""

    id: int
    event_id: int
    rule_id: int | None
    attempt: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float | None
    at: datetime


def _params(kind: RuleKind, params: dict[str, Any]) -> dict[str, Any]:
    """The kind's parameters with defaults, or a 422 naming `params.<field>`."""
    try:
        return parse_params(kind, params).model_dump(mode="json")
    except ValidationError as error:
        raise RequestValidationError(
            [
                {"loc": ("body", "params", *e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in error.errors()
            ]
        ) from None


def _out(rule: AlertRule, principal: Principal) -> RuleOut:
    return RuleOut.model_validate(
        manage.rule_view(rule, reveal_url=allows(principal.role, Permission.ADMIN))
    )


@router.post(
    "/rules",
    response_model=RuleOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an alert rule",
)
def create_rule(body: RuleIn, principal: Admin, database: DatabaseDep) -> RuleOut:
    """Kinds: negative_share, sentiment_drop, competitor_mentioned, band_fell, data_dark."""
    fields = manage.RuleFields(
        name=body.name,
        kind=body.kind,
        params=_params(body.kind, body.params),
        scope=body.scope,
        webhook_url=str(body.webhook_url),
        enabled=body.enabled,
    )
    with database.session() as session:
        rule = manage.create_rule(session, fields, actor=principal.actor)
        return _out(rule, principal)


@router.get("/rules", response_model=list[RuleOut], summary="List alert rules")
def list_rules(principal: Reader, database: DatabaseDep) -> list[RuleOut]:
    """Every rule, oldest first. Keys scoped to segments/owners see the rules over all
    accounts and those watching at least one account in their scope."""
    with database.session() as session:
        return [_out(rule, principal) for rule in manage.visible_rules(session, principal.scope)]


@router.get("/rules/{rule_id}", response_model=RuleOut, summary="One alert rule")
def get_rule(rule_id: RuleId, principal: Reader, database: DatabaseDep) -> RuleOut:
    """A rule by id (404 for a rule a scoped key may not see, as for an unknown one)."""
    with database.session() as session:
        return _out(manage.get_rule(session, rule_id, principal.scope), principal)


@router.patch("/rules/{rule_id}", response_model=RuleOut, summary="Change an alert rule")
def patch_rule(
    rule_id: RuleId, body: RulePatch, principal: Admin, database: DatabaseDep
) -> RuleOut:
    """Change some fields; e.g. `{"enabled": false}` pauses a rule."""
    with database.session() as session:
        rule = manage.get_rule(session, rule_id)
        kind = body.kind or RuleKind(rule.kind)
        if body.kind is not None and body.kind != rule.kind:
            params = body.params or {}
        else:
            params = {**rule.params, **(body.params or {})}
        scope = body.scope or Scope(type=rule.scope_type, value=rule.scope_value)
        fields = manage.RuleFields(
            name=body.name if body.name is not None else rule.name,
            kind=kind,
            params=_params(kind, params),
            scope=scope,
            webhook_url=str(body.webhook_url) if body.webhook_url else rule.webhook_url,
            enabled=body.enabled if body.enabled is not None else rule.enabled,
        )
        updated = manage.update_rule(session, rule_id, fields, actor=principal.actor)
        return _out(updated, principal)


@router.delete("/rules/{rule_id}", response_model=RuleOut, summary="Delete an alert rule")
def delete_rule(rule_id: RuleId, principal: Admin, database: DatabaseDep) -> RuleOut:
    """Delete a rule. Its past alerts stay in the event log; undelivered ones are cancelled."""
    with database.session() as session:
        rule = manage.delete_rule(session, rule_id, actor=principal.actor)
        return _out(rule, principal)


_COUNTERS: WeakKeyDictionary[ApiMetrics, Counter] = WeakKeyDictionary()
_COUNTERS_LOCK = threading.Lock()
_DELIVERY_LOCK = threading.Lock()


def _attempt_counter(metrics: ApiMetrics) -> Counter:
    """`alert_delivery_attempts_total{status}` in the app's registry (made on first use)."""
    with _COUNTERS_LOCK:
        if metrics not in _COUNTERS:
            _COUNTERS[metrics] = Counter(
                "alert_delivery_attempts_total",
                "Alert webhook delivery attempts by HTTP status ('error': no response).",
                ["status"],
                registry=metrics.registry,
            )
        return _COUNTERS[metrics]


def background_delivery(request: Request) -> BackgroundDelivery:
    """The app's alert delivery worker (made on first use; the app stops it on shutdown)."""
    state = request.app.state
    with _DELIVERY_LOCK:
        if getattr(state, "alert_delivery", None) is None:
            counter = _attempt_counter(state.metrics)
            state.alert_delivery = BackgroundDelivery(
                state.database,
                DeliveryPolicy.from_settings(state.settings),
                on_attempt=lambda a: counter.labels(str(a.status_code or "error")).inc(),
            )
        return state.alert_delivery


class RuleRunOut(BaseModel):
    """What evaluating one rule found."""

    rule_id: int
    name: str
    kind: str
    conditions: int
    new_events: int
    error: str | None


class AlertRunOut(BaseModel):
    """The counts of one alert run (the delivery counts stay 0: delivery runs afterwards)."""

    as_of: str = Field(description="The time the rules were evaluated at (ISO 8601)")
    rules_evaluated: int
    rules_failed: int
    conditions: int
    new_events: int
    delivered: int
    failed: int
    skipped: int
    attempts: int
    attempts_by_status: dict[str, int]
    pending: int = Field(description="Alerts waiting for delivery")
    rules: list[RuleRunOut]
    delivery: Literal["queued", "off"]


@router.post(
    "/evaluate",
    response_model=AlertRunOut,
    summary="Evaluate every enabled rule now; deliver in the background",
)
def evaluate(
    request: Request,
    _: Admin,
    database: DatabaseDep,
    settings: SettingsDep,
    as_of: Annotated[
        Moment | None, Query(description="Evaluate as of this time (default: now)")
    ] = None,
    deliver: Annotated[bool, Query(description="Post pending alerts to webhooks")] = True,
) -> AlertRunOut:
    """Runs every enabled rule and stores the conditions not alerted before; with `deliver`,
    pending alerts (new ones and earlier failures) are then posted to their webhooks by a
    background worker, so the answer never waits on a webhook. Returns the counts (the
    delivery counts stay 0 here: follow GET /v1/alerts/events and /v1/alerts/deliveries)."""
    if as_of is not None:
        if as_of.utcoffset() is None:
            raise InvalidInputError(
                "as_of needs a time zone, e.g. 2026-10-31T00:00:00Z", field="as_of"
            )
        if as_of > utcnow():
            raise InvalidInputError("as_of must not be in the future", field="as_of")
    summary = run_once(database, DeliveryPolicy.from_settings(settings), as_of=as_of, deliver=False)
    if deliver:
        background_delivery(request).wake()
    return AlertRunOut.model_validate(
        {**summary.as_json(), "delivery": "queued" if deliver else "off"}
    )


@router.get("/events", response_model=Page[EventOut], summary="Alerts found, newest first")
def list_events(
    principal: Reader,
    database: DatabaseDep,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    account_id: Annotated[str | None, Query(max_length=128)] = None,
    status_filter: Annotated[
        str | None,
        Query(alias="status", pattern=f"^({PENDING}|{DELIVERED}|{CANCELLED})$"),
    ] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[EventOut]:
    """Filter by rule, account or delivery status; page with `cursor`. Keys scoped to
    segments/owners see the alerts of accounts in their scope."""
    with database.session() as session:
        rows, more = history.list_events(
            session,
            principal.scope,
            rule_id=rule_id,
            account_id=account_id,
            status=status_filter,
            cursor=cursor,
            limit=limit,
        )
        items = [EventOut.model_validate(row, from_attributes=True) for row in rows]
    next_cursor = str(items[-1].id) if more else None
    return Page[EventOut](items=items, next_cursor=next_cursor)


@router.get(
    "/deliveries", response_model=Page[DeliveryOut], summary="Delivery attempts, newest first"
)
def list_deliveries(
    principal: Reader,
    database: DatabaseDep,
    event_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ok: bool | None = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[DeliveryOut]:
    """Every attempt with its HTTP status or error; page with `cursor`. Keys scoped to
    segments/owners see the attempts of alerts of accounts in their scope."""
    with database.session() as session:
        rows, more = history.list_deliveries(
            session,
            principal.scope,
            event_id=event_id,
            rule_id=rule_id,
            ok=ok,
            cursor=cursor,
            limit=limit,
        )
        items = [DeliveryOut.model_validate(row, from_attributes=True) for row in rows]
    next_cursor = str(items[-1].id) if more else None
    return Page[DeliveryOut](items=items, next_cursor=next_cursor)
