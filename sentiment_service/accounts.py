"""Accounts: create or update an account and its vendor ids, with an audit trail; read views
with health, sentiment windows, topics and negative evidence."""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, Float, Subquery, case, cast, func
from sqlmodel import Session, col, select

from pipelines.dates import Day
from pipelines.queue import active_version
from pipelines.rollups import ALL_SOURCES
from sentiment_service.audit import record_change
from sentiment_service.auth.scope import AccountScope, restrict_accounts
from sentiment_service.errors import ConflictError, InvalidInputError, NotFoundError
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    AccountExternalId,
    HealthScoreRecord,
    Message,
    MessageScore,
)
from sentiment_service.storage.types import utcnow
from sentiment_service.text_rules import NoNul

AccountId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul
]


class AccountIn(BaseModel):
    """The writable fields of an account (PUT replaces them)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256), NoNul
    ]
    segment: ShortText | None = None
    industry: ShortText | None = None
    tier: ShortText | None = None
    arr: float | None = Field(None, ge=0, allow_inf_nan=False)
    renewal_date: Day | None = None
    owner: ShortText | None = None
    external_ids: dict[ShortText, ShortText] = Field(
        default_factory=dict, description="Vendor system -> that system's id for this account."
    )


class AccountOut(AccountIn):
    """An account as the API returns it."""

    id: str


def _view(account: Account, external_ids: dict[str, str]) -> AccountOut:
    return AccountOut(
        id=account.id,
        name=account.name,
        segment=account.segment,
        industry=account.industry,
        tier=account.tier,
        arr=account.arr,
        renewal_date=account.renewal_date,
        owner=account.owner,
        external_ids=external_ids,
    )


def account_out(session: Session, account: Account) -> AccountOut:
    """The public view of an account row."""
    links = session.exec(
        select(AccountExternalId).where(AccountExternalId.account_id == account.id)
    ).all()
    return _view(account, {link.source_system: link.external_id for link in links})


def visible_account(session: Session, account_id: str, scope: AccountScope | None) -> Account:
    """The account when it exists and `scope` (None: unrestricted) covers it.

    An account outside the scope raises exactly the NotFoundError of an unknown account, so
    that a scoped caller cannot tell the two apart.
    """
    account = session.get(Account, account_id)
    if account is None or (scope is not None and not scope.allows(account)):
        raise NotFoundError(f"account {account_id!r} does not exist", field="account_id")
    return account


def account_ids(
    session: Session,
    scope: AccountScope | None,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[str]:
    """The ids of the accounts in `scope` (None: every account) in id order; with `after`,
    only the ids above it; with `limit`, at most that many."""
    query = restrict_accounts(select(Account.id), scope).order_by(col(Account.id))
    if limit is not None:
        query = query.limit(limit)
    if after:
        query = query.where(col(Account.id) > after)
    return list(session.exec(query).all())


def accounts_out(session: Session, accounts: Sequence[Account]) -> list[AccountOut]:
    """The public views of several account rows, with one query for all their vendor ids."""
    ids = [account.id for account in accounts]
    links: dict[str, dict[str, str]] = defaultdict(dict)
    if ids:
        rows = session.exec(
            select(AccountExternalId)
            .where(col(AccountExternalId.account_id).in_(ids))
            .order_by(col(AccountExternalId.id))
        ).all()
        for link in rows:
            links[link.account_id][link.source_system] = link.external_id
    return [_view(account, dict(links.get(account.id, {}))) for account in accounts]


def _snapshot(view: AccountOut | None) -> dict[str, Any] | None:
    return None if view is None else view.model_dump(mode="json")


def upsert_account(
    session: Session, account_id: str, data: AccountIn, *, actor: str
) -> tuple[AccountOut, bool]:
    """Create or replace an account; returns the stored view and whether it was created."""
    account = session.get(Account, account_id)
    before = None if account is None else account_out(session, account)
    if account is None:
        account = Account(id=account_id, name=data.name)
    for field in ("name", "segment", "industry", "tier", "arr", "renewal_date", "owner"):
        setattr(account, field, getattr(data, field))
    account.updated_at = utcnow()
    session.add(account)
    _replace_external_ids(session, account_id, data.external_ids)
    session.flush()
    after = account_out(session, account)
    if before != after:
        record_change(
            session,
            actor=actor,
            action="account.create" if before is None else "account.update",
            entity_type="account",
            entity_id=account_id,
            before=_snapshot(before),
            after=_snapshot(after),
        )
    return after, before is None


def _replace_external_ids(session: Session, account_id: str, wanted: dict[str, str]) -> None:
    current = session.exec(
        select(AccountExternalId).where(AccountExternalId.account_id == account_id)
    ).all()
    for link in current:
        if wanted.get(link.source_system) != link.external_id:
            session.delete(link)
    session.flush()
    existing = {link.source_system: link.external_id for link in current}
    for system, external_id in wanted.items():
        if existing.get(system) != external_id:
            owner = session.exec(
                select(AccountExternalId).where(
                    AccountExternalId.source_system == system,
                    AccountExternalId.external_id == external_id,
                )
            ).first()
            if owner is not None:
                raise ConflictError(
                    f"{system} id {external_id!r} already belongs to account {owner.account_id}",
                    field=f"external_ids.{system}",
                )
            session.add(
                AccountExternalId(
                    account_id=account_id, source_system=system, external_id=external_id
                )
            )


def create_placeholder_account(session: Session, account_id: str, *, actor: str) -> Account:
    """An account known only by its id (auto-created on ingestion when enabled)."""
    account = Account(id=account_id, name=account_id)
    session.add(account)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="account.auto_create",
        entity_type="account",
        entity_id=account_id,
        before=None,
        after={"id": account_id, "name": account_id},
    )
    return account


# --- reading: health, sentiment windows, topics and evidence ---------------------------------
#
# Sentiment windows end on the portfolio's latest rollup day (the newest day with any customer
# message of any account), not on today's date, so that a historical sample reads the same
# whenever it is loaded and every account is compared over the same days. The "30-day" window
# is that day and the 29 before it; the 30-day change is its mean score minus the mean of the
# 30 days just before. Means are over scored customer messages (rollups of source 'all').

SHORT_WINDOW_DAYS = 30
LONG_WINDOW_DAYS = 90
TOP_TOPICS = 5
EVIDENCE_MESSAGES = 5
QUOTE_CHARS = 280
MAX_OFFSET = 10_000_000
INCLUDE_SECTIONS = ("health", "sentiment", "topics", "evidence", "overrides")
AccountSort = Literal["id", "health", "-health", "sentiment_change", "-sentiment_change"]
_OFFSET_CURSOR = re.compile(r"^(-?[a-z_]{1,32}):(\d{1,8})$")


class HealthSummaryOut(BaseModel):
    """The latest stored (computed) score of an account under one scorecard."""

    scorecard: str
    score: float | None
    band: str
    confidence: float
    as_of: date


class AccountListItemOut(AccountOut):
    """An account in a listing, with its latest health and its recent sentiment."""

    health: HealthSummaryOut | None
    sentiment_30d: float | None = Field(
        description="Mean score of scored customer messages over the 30-day window."
    )
    sentiment_change_30d: float | None = Field(
        description="sentiment_30d minus the mean of the 30 days before (null without both)."
    )


class AccountSentimentOut(BaseModel):
    """Means and negative shares of scored customer messages over windows ending on `as_of`."""

    as_of: date | None
    scored_30d: int
    mean_30d: float | None
    negative_share_30d: float | None
    scored_90d: int
    mean_90d: float | None
    negative_share_90d: float | None
    change_30d: float | None


class AccountTopicSummaryOut(BaseModel):
    """One topic of an account: mentions and mean aspect sentiment over the window."""

    topic: str
    name: str | None
    mentions: int
    mean_sentiment: float | None
    negative_share: float | None


class AccountTopicsWindowOut(BaseModel):
    """The account's most mentioned topics over the 30-day window [start, end]."""

    start: date | None
    end: date | None
    items: list[AccountTopicSummaryOut]


class NegativeMessageOut(BaseModel):
    """A recent negative customer message, quoted."""

    id: int
    source: str
    created_at: datetime
    quote: str = Field(description=f"The text, cut to {QUOTE_CHARS} characters.")
    score: float | None


def parse_include(raw: str | None) -> set[str]:
    """The sections named in a comma list (blanks ignored); 422 naming `include` otherwise."""
    if raw is None:
        return set()
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(wanted - set(INCLUDE_SECTIONS))
    if unknown:
        raise InvalidInputError(
            f"unknown include {', '.join(unknown)}; choose from {', '.join(INCLUDE_SECTIONS)}",
            field="include",
        )
    return wanted


def encode_offset_cursor(sort: str, offset: int) -> str:
    """An opaque cursor for offset pagination under one sort order."""
    return base64.urlsafe_b64encode(f"{sort}:{offset}".encode()).decode().rstrip("=")


def decode_offset_cursor(cursor: str, sort: str) -> int:
    """The offset behind a cursor handed out for `sort`; 422 naming `cursor` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raw = ""
    match = _OFFSET_CURSOR.fullmatch(raw)
    if match is None:
        raise InvalidInputError("cursor is not one this listing handed out", field="cursor")
    if match.group(1) != sort:
        raise InvalidInputError(
            f"cursor belongs to sort={match.group(1)}, not sort={sort}", field="cursor"
        )
    offset = int(match.group(2))
    if offset > MAX_OFFSET:
        raise InvalidInputError(f"cursor offset beyond {MAX_OFFSET}", field="cursor")
    return offset


def _as_date(value: date | str | None) -> date | None:
    if isinstance(value, str):  # SQLite may hand back MAX() of a date column as text
        return date.fromisoformat(value[:10])
    return value


def sentiment_anchor(session: Session) -> date | None:
    """The portfolio's latest rollup day: where every sentiment window ends."""
    newest = session.exec(
        select(func.max(AccountDailyRollup.day)).where(AccountDailyRollup.source == ALL_SOURCES)
    ).one()
    return _as_date(newest)


def _window_start(anchor: date, days: int) -> date:
    return anchor - timedelta(days=days - 1)


def _mean(total: Any, count: Any) -> Any:
    return cast(total, Float) / func.nullif(count, 0)


def _latest_health(scorecard: str) -> Subquery:
    """Per account, the newest stored score under `scorecard` (same order as the health API)."""
    record = HealthScoreRecord
    position = (
        func.row_number()
        .over(
            partition_by=col(record.account_id),
            order_by=(col(record.as_of).desc(), col(record.id).desc()),
        )
        .label("position")
    )
    ranked = (
        select(
            record.account_id,
            record.score,
            record.band,
            record.confidence,
            record.as_of,
            position,
        )
        .where(record.scorecard == scorecard)
        .subquery()
    )
    return (
        select(
            ranked.c.account_id,
            ranked.c.score,
            ranked.c.band,
            ranked.c.confidence,
            ranked.c.as_of,
        )
        .where(ranked.c.position == 1)
        .subquery()
    )


def _short_windows(anchor: date) -> Subquery:
    """Per account, score sums and scored counts of the 30-day window and the 30 days before."""
    rollup = AccountDailyRollup
    current_start = _window_start(anchor, SHORT_WINDOW_DAYS)
    previous_start = current_start - timedelta(days=SHORT_WINDOW_DAYS)
    current = col(rollup.day) >= current_start

    def total(column: Any, when: ColumnElement[bool]) -> Any:
        return func.sum(case((when, column), else_=None))

    return (
        select(
            rollup.account_id,
            total(rollup.score_sum, current).label("current_sum"),
            total(rollup.scored_count, current).label("current_scored"),
            total(rollup.score_sum, ~current).label("previous_sum"),
            total(rollup.scored_count, ~current).label("previous_scored"),
        )
        .where(
            rollup.source == ALL_SOURCES,
            col(rollup.day) >= previous_start,
            col(rollup.day) <= anchor,
        )
        .group_by(rollup.account_id)
        .subquery()
    )


def _nulls_last(expression: Any, descending: bool) -> list[Any]:
    return [
        case((expression.is_(None), 1), else_=0),
        expression.desc() if descending else expression,
    ]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def list_accounts(
    session: Session,
    *,
    segment: str | None,
    owner: str | None,
    scorecard: str,
    band: str | None,
    min_change: float | None,
    max_change: float | None,
    sort: AccountSort,
    cursor: str | None,
    limit: int,
    scope: AccountScope | None = None,
) -> tuple[list[AccountListItemOut], str | None]:
    """A page of accounts with their latest health and 30-day sentiment, filtered and sorted;
    only accounts in `scope` (None: all) are listed.

    Three queries whatever the page size: accounts joined with their latest score and their
    window sums, then the vendor ids of the page. `sort=id` pages by id (the cursor is the
    last id); other sorts page by offset with an opaque cursor, ties broken by id. Filters on
    the sentiment change compare the unrounded value; accounts without one are left out.
    """
    if min_change is not None and max_change is not None and min_change > max_change:
        raise InvalidInputError(
            "min_sentiment_change must not exceed max_sentiment_change",
            field="min_sentiment_change",
        )
    offset = 0
    if sort != "id" and cursor is not None:
        offset = decode_offset_cursor(cursor, sort)
    anchor = sentiment_anchor(session) or datetime.now(UTC).date()
    health = _latest_health(scorecard)
    windows = _short_windows(anchor)
    current_mean = _mean(windows.c.current_sum, windows.c.current_scored)
    change = current_mean - _mean(windows.c.previous_sum, windows.c.previous_scored)
    query = (
        select(
            Account,
            health.c.score,
            health.c.band,
            health.c.confidence,
            health.c.as_of,
            current_mean.label("sentiment"),
            change.label("change"),
        )
        .outerjoin(health, health.c.account_id == col(Account.id))
        .outerjoin(windows, windows.c.account_id == col(Account.id))
    )
    query = restrict_accounts(query, scope)
    if segment is not None:
        query = query.where(Account.segment == segment)
    if owner is not None:
        query = query.where(Account.owner == owner)
    if band is not None:
        query = query.where(health.c.band == band)
    if min_change is not None:
        query = query.where(change >= min_change)
    if max_change is not None:
        query = query.where(change <= max_change)
    if sort == "id":
        if cursor is not None:
            query = query.where(col(Account.id) > cursor)
        query = query.order_by(col(Account.id))
    else:
        key = health.c.score if sort.endswith("health") else change
        query = query.order_by(*_nulls_last(key, sort.startswith("-")), col(Account.id))
        query = query.offset(offset)
    rows = list(session.exec(query.limit(limit + 1)).all())
    page = rows[:limit]
    views = accounts_out(session, [row[0] for row in page])
    items = [
        AccountListItemOut(
            **view.model_dump(),
            health=None
            if row_band is None
            else HealthSummaryOut(
                scorecard=scorecard,
                score=score,
                band=row_band,
                confidence=confidence,
                as_of=_as_date(as_of),
            ),
            sentiment_30d=_rounded(sentiment),
            sentiment_change_30d=_rounded(row_change),
        )
        for view, (_, score, row_band, confidence, as_of, sentiment, row_change) in zip(
            views, page, strict=True
        )
    ]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = items[-1].id if sort == "id" else encode_offset_cursor(sort, offset + limit)
    return items, next_cursor


def account_sentiment(
    session: Session, account_id: str, anchor: date | None
) -> AccountSentimentOut:
    """30- and 90-day means and negative shares, and the 30-day change, of one account."""
    if anchor is None:
        return AccountSentimentOut(
            as_of=None,
            scored_30d=0,
            mean_30d=None,
            negative_share_30d=None,
            scored_90d=0,
            mean_90d=None,
            negative_share_90d=None,
            change_30d=None,
        )
    rollup = AccountDailyRollup
    short_start = _window_start(anchor, SHORT_WINDOW_DAYS)
    previous_start = short_start - timedelta(days=SHORT_WINDOW_DAYS)
    long_start = _window_start(anchor, LONG_WINDOW_DAYS)
    windows = {
        "short": col(rollup.day) >= short_start,
        "previous": (col(rollup.day) >= previous_start) & (col(rollup.day) < short_start),
        "long": col(rollup.day) >= long_start,
    }
    columns = [
        func.sum(case((when, column), else_=None))
        for when in windows.values()
        for column in (rollup.score_sum, rollup.scored_count, rollup.negative_count)
    ]
    row = session.exec(
        select(*columns).where(
            rollup.account_id == account_id,
            rollup.source == ALL_SOURCES,
            col(rollup.day) >= min(previous_start, long_start),
            col(rollup.day) <= anchor,
        )
    ).one()
    (short_sum, short_n, short_neg, prev_sum, prev_n, _, long_sum, long_n, long_neg) = (
        value or 0 for value in row
    )
    short_mean = float(short_sum) / short_n if short_n else None
    previous_mean = float(prev_sum) / prev_n if prev_n else None
    change = None
    if short_mean is not None and previous_mean is not None:
        change = short_mean - previous_mean
    return AccountSentimentOut(
        as_of=anchor,
        scored_30d=int(short_n),
        mean_30d=_rounded(short_mean),
        negative_share_30d=_rounded(short_neg / short_n) if short_n else None,
        scored_90d=int(long_n),
        mean_90d=_rounded(float(long_sum) / long_n) if long_n else None,
        negative_share_90d=_rounded(long_neg / long_n) if long_n else None,
        change_30d=_rounded(change),
    )


def account_top_topics(
    session: Session, account_id: str, anchor: date | None, names: dict[str, str]
) -> AccountTopicsWindowOut:
    """The account's `TOP_TOPICS` most mentioned topics over the 30-day window (topic rollups)."""
    if anchor is None:
        return AccountTopicsWindowOut(start=None, end=None, items=[])
    rollup = AccountDailyTopicRollup
    start = _window_start(anchor, SHORT_WINDOW_DAYS)
    mentions = func.sum(rollup.mentions)
    rows = session.exec(
        select(
            rollup.topic,
            mentions,
            func.sum(rollup.scored_count),
            func.sum(rollup.score_sum),
            func.sum(rollup.negative_count),
        )
        .where(
            rollup.account_id == account_id,
            col(rollup.day) >= start,
            col(rollup.day) <= anchor,
        )
        .group_by(rollup.topic)
        .order_by(mentions.desc(), col(rollup.topic))
        .limit(TOP_TOPICS)
    ).all()
    items = [
        AccountTopicSummaryOut(
            topic=topic,
            name=names.get(topic),
            mentions=int(count or 0),
            mean_sentiment=_rounded(float(total) / scored) if scored else None,
            negative_share=_rounded(int(negative or 0) / scored) if scored else None,
        )
        for topic, count, scored, total, negative in rows
    ]
    return AccountTopicsWindowOut(start=start, end=anchor, items=items)


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def negative_evidence(session: Session, account_id: str) -> list[NegativeMessageOut]:
    """The account's newest customer messages the active model labels negative."""
    version = active_version(session)
    if version is None:
        return []
    rows = session.exec(
        select(Message, MessageScore)
        .join(MessageScore, col(MessageScore.message_id) == col(Message.id))
        .where(
            Message.account_id == account_id,
            Message.author_role == "customer",
            MessageScore.model_version == version,
            MessageScore.label == "negative",
        )
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(EVIDENCE_MESSAGES)
    ).all()
    return [
        NegativeMessageOut(
            id=message.id or 0,
            source=message.source,
            created_at=message.created_at,
            quote=_quote(message.text),
            score=None if score.score is None else round(score.score, 4),
        )
        for message, score in rows
    ]


class ScoredMessageOut(BaseModel):
    """A stored message with its sentiment under the active model version."""

    id: int
    source: str
    source_system: str
    external_id: str
    author_role: str
    thread_id: str | None
    created_at: datetime
    text: str
    duplicate_of: int | None = Field(
        None, description="Set when flagged as a canned repeat of that message (not scored)"
    )
    duplicate_reason: str | None = None
    label: str | None
    score: float | None
    model_version: str | None
    sentences: list[dict[str, Any]] | None


def account_messages(
    session: Session,
    account_id: str,
    scope: AccountScope | None,
    *,
    source: str | None = None,
    label: str | None = None,
    author_role: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> tuple[list[ScoredMessageOut], str | None]:
    """A page of the account's messages, newest first, each with its sentiment under the
    active model version (`label` filters on it; messages without a score are kept unless
    `label` is given), and the cursor of the next page (ids below `cursor`). NotFoundError
    when the account does not exist or `scope` does not cover it."""
    visible_account(session, account_id, scope)
    version = active_version(session)
    query = (
        select(Message, MessageScore)
        .join(
            MessageScore,
            (col(MessageScore.message_id) == col(Message.id))
            & (col(MessageScore.model_version) == version),
            isouter=label is None,
        )
        .where(Message.account_id == account_id)
        .order_by(col(Message.id).desc())
        .limit(limit + 1)
    )
    if source is not None:
        query = query.where(Message.source == source)
    if author_role is not None:
        query = query.where(Message.author_role == author_role)
    if label is not None:
        query = query.where(MessageScore.label == label)
    if cursor is not None:
        query = query.where(col(Message.id) < cursor)
    rows = list(session.exec(query).all())
    items = [
        ScoredMessageOut(
            id=m.id or 0,
            source=m.source,
            source_system=m.source_system,
            external_id=m.external_id,
            author_role=m.author_role,
            thread_id=m.thread_id,
            created_at=m.created_at,
            text=m.text,
            duplicate_of=m.duplicate_of,
            duplicate_reason=m.duplicate_reason,
            label=s.label if s else None,
            score=s.score if s else None,
            model_version=s.model_version if s else None,
            sentences=s.sentences if s else None,
        )
        for m, s in rows[:limit]
    ]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return items, next_cursor
