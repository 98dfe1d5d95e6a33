"""Accounts: create/replace and read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel
from sqlmodel import Session

from pipelines.ingest import IngestPolicy
from pipelines.topics import active_taxonomy
from sentiment_service import config_store
from sentiment_service.accounts import (
    INCLUDE_SECTIONS,
    AccountId,
    AccountIn,
    AccountListItemOut,
    AccountOut,
    AccountSentimentOut,
    AccountSort,
    AccountTopicsWindowOut,
    NegativeMessageOut,
    ScoredMessageOut,
    account_messages,
    account_out,
    account_sentiment,
    account_top_topics,
    negative_evidence,
    parse_include,
    sentiment_anchor,
    upsert_account,
    visible_account,
)
from sentiment_service.accounts import list_accounts as read_accounts
from sentiment_service.api import caching
from sentiment_service.api.deps import (
    DatabaseDep,
    Ingester,
    Reader,
    ResponseCacheDep,
    SettingsDep,
)
from sentiment_service.api.schemas import MAX_ID, Page
from sentiment_service.errors import InvalidInputError
from sentiment_service.health import service
from sentiment_service.health.account_health import HealthScoreOut, health_of
from sentiment_service.health.drift import DarkSource
from sentiment_service.health.manual_overrides import OverrideOut, active_overrides
from sentiment_service.health.scorecard import (
    UNKNOWN_BAND,
    Scorecard,
    load_default_scorecards,
)
from sentiment_service.quarantine import replay_for_account
from sentiment_service.storage.tables import Account
from sentiment_service.storage.types import utcnow
from sentiment_service.topic_insights import topic_names

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
AccountPath = Annotated[AccountId, Path(description="Our id of the account")]


@router.put(
    "/{account_id}",
    response_model=AccountOut,
    responses={201: {"model": AccountOut, "description": "Created"}},
    summary="Create or replace an account",
)
def put_account(
    account_id: AccountPath,
    body: AccountIn,
    principal: Ingester,
    database: DatabaseDep,
    settings: SettingsDep,
    response: Response,
) -> AccountOut:
    """Create the account, or replace its fields and vendor ids; changes go to the audit log.

    Quarantined records that were refused because this account (by our id or one of its vendor
    ids) did not exist are replayed at once; `X-Quarantine-Replayed` says how many were stored.
    """
    with database.session(write=True) as session:
        view, created = upsert_account(session, account_id, body, actor=principal.actor)
        replayed = replay_for_account(
            session, IngestPolicy.from_settings(settings), account_id, actor=principal.actor
        )
    if created:
        response.status_code = status.HTTP_201_CREATED
    stored = replayed.stored + replayed.flagged + replayed.updated + replayed.duplicates
    if replayed.examined:
        log.info("quarantine_replayed", account_id=account_id, **replayed.as_dict())
    response.headers["X-Quarantine-Replayed"] = str(stored)
    return view


class AccountHealthSectionOut(BaseModel):
    """The account's health as GET /v1/accounts/{id}/health shows it, without evidence quotes."""

    scores: list[HealthScoreOut]
    not_scored_yet: list[str]
    dark_sources: list[DarkSource]


class AccountDetailOut(AccountOut):
    """An account with the sections asked for in `include` (absent when not asked for)."""

    health: AccountHealthSectionOut | None = None
    sentiment: AccountSentimentOut | None = None
    topics: AccountTopicsWindowOut | None = None
    evidence: list[NegativeMessageOut] | None = None
    overrides: list[OverrideOut] | None = None


def _health_section(session: Session, account_id: str, now: datetime) -> AccountHealthSectionOut:
    health = health_of(session, account_id, now, evidence=False)
    return AccountHealthSectionOut(
        scores=health.scores,
        not_scored_yet=health.not_scored_yet,
        dark_sources=health.dark_sources,
    )


@router.get(
    "/{account_id}",
    response_model=AccountDetailOut,
    response_model_exclude_unset=True,
    summary="One account",
)
def get_account(
    account_id: AccountPath,
    request: Request,
    principal: Reader,
    database: DatabaseDep,
    cache: ResponseCacheDep,
    include: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Comma list of extra sections: " + ", ".join(INCLUDE_SECTIONS),
        ),
    ] = None,
) -> Response:
    """The account's stored fields and vendor ids, and on request: `health` (latest score per
    scorecard, explained, as GET /v1/accounts/{id}/health without quotes), `sentiment` (30- and
    90-day means, negative shares and 30-day change, windows ending on the portfolio's latest
    rollup day), `topics` (top topics of the 30-day window), `evidence` (newest negative
    customer messages) and `overrides` (those in force). Answers carry an ETag and
    Last-Modified (If-None-Match / If-Modified-Since get a 304 while nothing changed)."""
    sections = parse_include(include)
    now = utcnow()
    with database.session() as session:
        account = visible_account(session, account_id, principal.scope)
        facts = {"account_id": account_id, "now": now}
        minute = now.replace(second=0, microsecond=0)  # dark channels are judged at `now`
        current = caching.validators(
            session, request, caching.ACCOUNT_FACTS, params=facts, extra=[minute]
        )

        def render() -> bytes:
            view = _account_detail(session, account, sections, now)
            return view.model_dump_json(by_alias=True, exclude_unset=True).encode()

        return caching.cached_json(request, cache, current, principal.scope, render)


def _account_detail(
    session: Session, account: Account, sections: set[str], now: datetime
) -> AccountOut:
    """The account's view with the sections asked for."""
    account_id = account.id
    view = account_out(session, account)
    if not sections:
        return view
    extra: dict[str, Any] = {}
    anchor = sentiment_anchor(session) if sections & {"sentiment", "topics"} else None
    if "health" in sections:
        extra["health"] = _health_section(session, account_id, now)
    if "sentiment" in sections:
        extra["sentiment"] = account_sentiment(session, account_id, anchor)
    if "topics" in sections:
        taxonomy, _version = active_taxonomy(session)
        extra["topics"] = account_top_topics(session, account_id, anchor, topic_names(taxonomy))
    if "evidence" in sections:
        extra["evidence"] = negative_evidence(session, account_id)
    if "overrides" in sections:
        extra["overrides"] = active_overrides(session, account_id, now)
    return AccountDetailOut(**view.model_dump(), **extra)


def _band_names(session: Session, scorecard: str) -> list[str]:
    """The bands of the scorecard in force and `unknown` (stored for accounts without data),
    read without storing the shipped defaults."""
    stored = config_store.latest(session, service.SCORECARD_KIND, scorecard)
    if stored is not None:
        card: Scorecard | None = Scorecard.model_validate(stored.body)
    else:
        card = next((c for c in load_default_scorecards() if c.id == scorecard), None)
    if card is None:
        raise InvalidInputError(f"no scorecard {scorecard!r}", field="scorecard")
    return [band.name for band in card.bands] + [UNKNOWN_BAND]


@router.get("", response_model=Page[AccountListItemOut], summary="List accounts")
def list_accounts(
    principal: Reader,
    database: DatabaseDep,
    segment: str | None = None,
    owner: str | None = None,
    band: Annotated[
        str | None,
        Query(max_length=32, description="Band of the latest stored score under `scorecard`"),
    ] = None,
    scorecard: Annotated[
        str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Scorecard of `health`")
    ] = "churn_risk",
    min_sentiment_change: Annotated[
        float | None, Query(ge=-2, le=2, allow_inf_nan=False, description="30-day change >=")
    ] = None,
    max_sentiment_change: Annotated[
        float | None, Query(ge=-2, le=2, allow_inf_nan=False, description="30-day change <=")
    ] = None,
    sort: Annotated[
        AccountSort,
        Query(
            description="id (default, pages by id), or by health score or 30-day sentiment "
            "change (pages by offset); a leading '-' sorts descending, accounts without a value "
            "come last, ties go by id",
        ),
    ] = "id",
    cursor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[AccountListItemOut]:
    """Accounts filtered by segment, owner, health band and 30-day sentiment change, ordered
    by id (default) or by health score or sentiment change, a page at a time. Each carries
    its latest stored (computed) score under `scorecard`, its mean sentiment over the 30 days
    ending on the portfolio's latest rollup day, and the change from the 30 days before.
    Keys scoped to segments/owners list only the accounts in their scope."""
    with database.session() as session:
        names = _band_names(session, scorecard)
        if band is not None and band not in names:
            raise InvalidInputError(f"band must be one of {names}", field="band")
        items, next_cursor = read_accounts(
            session,
            segment=segment,
            owner=owner,
            scorecard=scorecard,
            band=band,
            min_change=min_sentiment_change,
            max_change=max_sentiment_change,
            sort=sort,
            cursor=cursor,
            limit=limit,
            scope=principal.scope,
        )
    return Page[AccountListItemOut](items=items, next_cursor=next_cursor)


@router.get(
    "/{account_id}/messages",
    response_model=Page[ScoredMessageOut],
    summary="An account's messages with their sentiment (evidence)",
)
def list_account_messages(
    account_id: AccountPath,
    principal: Reader,
    database: DatabaseDep,
    source: str | None = None,
    label: Annotated[str | None, Query(pattern="^(negative|neutral|positive)$")] = None,
    author_role: str | None = "customer",
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ScoredMessageOut]:
    """Newest first; `label` filters on the model's (active version) label."""
    with database.session() as session:
        items, next_cursor = account_messages(
            session,
            account_id,
            principal.scope,
            source=source,
            label=label,
            author_role=author_role,
            cursor=cursor,
            limit=limit,
        )
    return Page[ScoredMessageOut](items=items, next_cursor=next_cursor)
