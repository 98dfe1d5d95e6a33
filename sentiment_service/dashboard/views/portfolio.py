"""The portfolio page: accounts by band and the account table, biggest sentiment drops first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from sentiment_service.auth.scope import AccountScope, restrict_accounts
from sentiment_service.dashboard.views.scores import (
    CardInfo,
    active_overrides,
    distinct_values,
    latest_records,
    mean_by_account,
    reference_day,
    scorecards,
)
from sentiment_service.health import service
from sentiment_service.health.overrides import effective_score
from sentiment_service.health.scoring import HealthScore
from sentiment_service.storage.tables import Account, HealthScoreRecord

PORTFOLIO_ROW_LIMIT = 500
SENTIMENT_WINDOW_DAYS = 30


@dataclass
class PortfolioRow:
    """One account in the portfolio table."""

    account_id: str
    name: str
    segment: str | None
    owner: str | None
    score: float | None
    band: str | None
    overridden: bool
    confidence: float | None
    as_of: date | None
    sentiment_30d: float | None
    sentiment_change: float | None
    scored_30d: int


@dataclass
class BandCount:
    """How many accounts sit in one band of a scorecard."""

    band: str
    count: int


@dataclass
class Portfolio:
    """The overview page."""

    cards: list[CardInfo]
    card: CardInfo | None
    band_counts: dict[str, list[BandCount]]
    unscored: dict[str, int]
    rows: list[PortfolioRow]
    truncated: bool
    total_accounts: int
    matching_accounts: int
    segments: list[str]
    owners: list[str]
    window_end: date | None
    scored_accounts: int = 0


def portfolio(
    session: Session,
    *,
    scorecard: str | None,
    segment: str | None,
    owner: str | None,
    band: str | None,
    now: datetime,
    scope: AccountScope | None = None,
) -> Portfolio:
    """Accounts by band and the account table, biggest 30-day sentiment drops first (the
    accounts in `scope` only, when given)."""
    cards = scorecards(session)
    card = next((c for c in cards if c.id == scorecard), cards[0] if cards else None)
    total = session.exec(restrict_accounts(select(func.count()).select_from(Account), scope)).one()
    segments = distinct_values(session, Account.segment, scope)
    owners = distinct_values(session, Account.owner, scope)
    query = restrict_accounts(select(Account).order_by(col(Account.id)), scope)
    if segment:
        query = query.where(Account.segment == segment)
    if owner:
        query = query.where(Account.owner == owner)
    accounts = list(session.exec(query).all())
    ids = [a.id for a in accounts] if (segment or owner or scope) else None
    records = latest_records(session, ids)
    overrides = active_overrides(session, ids, now)
    shown: dict[tuple[str, str], tuple[float | None, str, bool, HealthScoreRecord]] = {}
    for record in records:
        row = overrides.get((record.account_id, record.scorecard))
        if row is None:
            shown[(record.account_id, record.scorecard)] = (
                record.score,
                record.band,
                False,
                record,
            )
            continue
        effective = effective_score(
            HealthScore.model_validate(record.explanation), service.to_override(row), as_of=now
        )
        shown[(record.account_id, record.scorecard)] = (
            effective.score,
            effective.band,
            effective.source == "override",
            record,
        )
    band_counts: dict[str, list[BandCount]] = {}
    unscored: dict[str, int] = {}
    for info in cards:
        counts = dict.fromkeys(info.bands, 0)
        missing = 0
        for account in accounts:
            item = shown.get((account.id, info.id))
            if item is None:
                missing += 1
            else:
                counts[item[1]] = counts.get(item[1], 0) + 1
        band_counts[info.id] = [BandCount(name, count) for name, count in counts.items()]
        unscored[info.id] = missing
    end = reference_day(session)
    now_means: dict[str, tuple[float | None, int]] = {}
    before_means: dict[str, tuple[float | None, int]] = {}
    if end is not None:
        start = end - timedelta(days=SENTIMENT_WINDOW_DAYS - 1)
        now_means = mean_by_account(session, start, end, ids)
        before_means = mean_by_account(
            session,
            start - timedelta(days=SENTIMENT_WINDOW_DAYS),
            start - timedelta(days=1),
            ids,
        )
    rows: list[PortfolioRow] = []
    for account in accounts:
        item = shown.get((account.id, card.id)) if card else None
        if band and (item is None or item[1] != band):
            continue
        current, scored = now_means.get(account.id, (None, 0))
        previous, _ = before_means.get(account.id, (None, 0))
        change = current - previous if current is not None and previous is not None else None
        rows.append(
            PortfolioRow(
                account_id=account.id,
                name=account.name,
                segment=account.segment,
                owner=account.owner,
                score=item[0] if item else None,
                band=item[1] if item else None,
                overridden=item[2] if item else False,
                confidence=item[3].confidence if item else None,
                as_of=item[3].as_of if item else None,
                sentiment_30d=current,
                sentiment_change=change,
                scored_30d=scored,
            )
        )
    rows.sort(
        key=lambda r: (
            r.sentiment_change is None,
            r.sentiment_change if r.sentiment_change is not None else 0.0,
            r.account_id,
        )
    )
    return Portfolio(
        cards=cards,
        card=card,
        band_counts=band_counts,
        unscored=unscored,
        rows=rows[:PORTFOLIO_ROW_LIMIT],
        truncated=len(rows) > PORTFOLIO_ROW_LIMIT,
        total_accounts=int(total or 0),
        matching_accounts=len(rows),
        segments=segments,
        owners=owners,
        window_end=end,
        scored_accounts=len({r.account_id for r in records}),
    )
