"""An account's health: scores per scorecard with explanation and evidence, history, overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from pipelines.dates import Day
from sentiment_service.accounts import AccountId, visible_account
from sentiment_service.api import caching
from sentiment_service.api.deps import Admin, DatabaseDep, Reader, ResponseCacheDep
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.health import account_health as reads
from sentiment_service.health import manual_overrides
from sentiment_service.health.account_health import AccountHealthOut, HealthHistoryOut
from sentiment_service.health.manual_overrides import OverrideIn, OverrideOut
from sentiment_service.storage.types import utcnow

router = APIRouter(prefix="/v1/accounts", tags=["health"])
AccountPath = Annotated[AccountId, Path(description="Our id of the account")]


@router.get(
    "/{account_id}/health",
    response_model=AccountHealthOut,
    summary="Health per scorecard, explained",
)
def account_health(
    account_id: AccountPath,
    request: Request,
    principal: Reader,
    database: DatabaseDep,
    cache: ResponseCacheDep,
    day: Day | None = Query(None, description="Latest stored score on or before this day"),
    evidence: bool = Query(True, description="Quote the messages behind sentiment/topic parts"),
) -> Response:
    """The latest stored score under each scorecard in force: score and band to act on (an
    active override wins; the computed score stays beside it), confidence, peer percentile,
    change over 30/90 days, each component's contribution, the drivers of change, evidence
    quotes, and channels that went dark. Answers carry an ETag and Last-Modified
    (If-None-Match / If-Modified-Since get a 304 while nothing behind them changed)."""
    now = utcnow()
    with database.session() as session:
        visible_account(session, account_id, principal.scope)
        facts = {"account_id": account_id, "now": now}
        minute = now.replace(second=0, microsecond=0)  # dark channels are judged at `now`
        current = caching.validators(
            session, request, caching.ACCOUNT_FACTS, params=facts, extra=[minute]
        )

        def render() -> bytes:
            health = reads.health_of(session, account_id, now, day=day, evidence=evidence)
            return health.model_dump_json(by_alias=True).encode()

        return caching.cached_json(request, cache, current, principal.scope, render)


@router.get(
    "/{account_id}/health/history",
    response_model=HealthHistoryOut,
    summary="Stored health scores over time",
)
def health_history(
    account_id: AccountPath,
    principal: Reader,
    database: DatabaseDep,
    scorecard: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = "churn_risk",
    start: Day | None = None,
    end: Day | None = None,
) -> HealthHistoryOut:
    """Daily stored scores (oldest first) with band, confidence and scorecard version."""
    with database.session() as session:
        return reads.health_history(
            session, account_id, principal.scope, scorecard=scorecard, start=start, end=end
        )


@router.get("/{account_id}/overrides", response_model=list[OverrideOut], summary="Overrides")
def list_overrides(
    account_id: AccountPath, principal: Reader, database: DatabaseDep
) -> list[OverrideOut]:
    """Every override of the account, newest first, including removed and expired ones."""
    now = utcnow()
    with database.session() as session:
        return manual_overrides.list_overrides(session, account_id, principal.scope, now)


@router.post(
    "/{account_id}/overrides", response_model=OverrideOut, status_code=201, summary="Override"
)
def create_override(
    account_id: AccountPath, body: OverrideIn, principal: Admin, database: DatabaseDep
) -> OverrideOut:
    """Set an account's score and/or band with a reason and an expiry (at most a year ahead).
    The computed score keeps being stored beside it; the change is audited."""
    now = utcnow()
    with database.session() as session:
        return manual_overrides.create_override(
            session, account_id, body, actor=principal.actor, scope=principal.scope, now=now
        )


@router.delete(
    "/{account_id}/overrides/{override_id}",
    response_model=OverrideOut,
    summary="Remove an override",
)
def remove_override(
    account_id: AccountPath,
    override_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: Admin,
    database: DatabaseDep,
) -> OverrideOut:
    """End an override now (it stays in the history and the audit log)."""
    now = utcnow()
    with database.session() as session:
        return manual_overrides.remove_override(
            session, account_id, override_id, actor=principal.actor, now=now
        )
