"""Conditional GETs: weak ETags and Last-Modified from cheap database facts, and 304s.

A response's validators are derived, before the expensive work, from aggregates that move
whenever the data behind it can have changed: row counts, the highest row id (new rows; the
pipelines replace derived rows by delete + insert, so ids move on a rewrite) and the newest
change timestamps of the tables it reads, the active model version, the path and the sorted
query string, and the service version (a new release may render differently). Features,
which read whole tables, use write counters instead (`data_versions`, moved by triggers in
the same transaction as every write of their tables), so that no request scans them. A
representation that depends on the clock (features "as of now") adds the current minute.
ETags are weak: equal tags mean the same data, not byte-equal bodies.

All facts of a representation are read in one statement (one round trip). A process-local
`ResponseCache` keeps rendered bodies keyed by the ETag and the caller's scope: the ETag
already names the path, the query and the data behind the answer, so a cached body is served
exactly when a 304 would be, and never to a caller of another scope.

Last-Modified is the later of the newest timestamp among those facts and the moment this
process first saw the ETag, so changes without a timestamp of their own (a deleted row, an
updated metric value) also move it forward. `If-None-Match` wins over `If-Modified-Since`
(RFC 9110); the latter has one-second resolution, so prefer ETags.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy import BindParameter, Select, bindparam, case, func, true
from sqlmodel import Session, col, select

from pipelines.queue import ACTIVE_VERSION_KEY
from sentiment_service import __version__
from sentiment_service.auth.scope import AccountScope, scope_token
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    AccountExternalId,
    CompetitorMention,
    ConfigVersion,
    DataVersion,
    HealthOverride,
    HealthScoreRecord,
    LabelCorrection,
    Message,
    MessageScore,
    MessageTopic,
    Metric,
    PipelineState,
)

CACHE_CONTROL = "private, max-age=0, must-revalidate"
FIRST_SEEN_SIZE = 4096


class Validators:
    """An ETag and a Last-Modified time for one representation."""

    __slots__ = ("etag", "last_modified")

    def __init__(self, etag: str, last_modified: datetime) -> None:
        self.etag = etag
        self.last_modified = last_modified

    def headers(self) -> dict[str, str]:
        """ETag, Last-Modified and Cache-Control."""
        return {
            "ETag": self.etag,
            "Last-Modified": http_date(self.last_modified),
            "Cache-Control": CACHE_CONTROL,
        }


def http_date(moment: datetime) -> str:
    """An IMF-fixdate (second resolution, GMT)."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


# --- facts ------------------------------------------------------------------------------------


def _active_version() -> Select[*tuple[Any, ...]]:
    # Aggregates, so that the row is there (NULLs) before any version is active.
    return select(func.max(PipelineState.value), func.max(PipelineState.updated_at)).where(
        PipelineState.key == ACTIVE_VERSION_KEY
    )


def _configs() -> Select[*tuple[Any, ...]]:
    """Scorecards, calibrations and taxonomies: new versions and changes of what is published."""
    published = col(ConfigVersion.status) == "published"
    return select(
        func.count(),
        func.max(ConfigVersion.id),
        func.sum(case((published, 1), else_=0)),
        func.sum(case((published, ConfigVersion.id), else_=0)),
    )


def _of_account_messages(
    table: Any, account_id: str | BindParameter[str]
) -> Select[*tuple[Any, ...]]:
    """Count and highest id of a per-message table's rows for one account's messages."""
    return (
        select(func.count(), func.max(table.id))
        .join(Message, col(Message.id) == col(table.message_id))
        .where(Message.account_id == account_id)
    )


def account_facts(
    account_id: str | BindParameter[str], now: datetime | BindParameter[datetime]
) -> list[Select[*tuple[Any, ...]]]:
    """What an account's health and its detail view read: the account row and vendor ids,
    its messages with their scores, topics and competitor mentions, metrics, stored health
    scores and overrides (and how many are in force at `now`), its daily and topic rollups,
    the portfolio's latest rollup day (where sentiment windows end), the published
    configuration (scorecards, calibrations, taxonomy) and the active model version."""
    override = HealthOverride
    in_force = col(override.removed_at).is_(None) & (col(override.expires_at) > now)
    topic_rollup = AccountDailyTopicRollup
    return [
        select(func.count(), func.max(Account.updated_at)).where(col(Account.id) == account_id),
        select(func.count(), func.max(AccountExternalId.id)).where(
            AccountExternalId.account_id == account_id
        ),
        select(func.count(), func.max(Message.id), func.max(Message.updated_at)).where(
            Message.account_id == account_id
        ),
        _of_account_messages(MessageScore, account_id),
        _of_account_messages(MessageTopic, account_id),
        _of_account_messages(CompetitorMention, account_id),
        _of_account_messages(LabelCorrection, account_id),
        select(
            func.count(), func.max(Metric.id), func.max(Metric.ingested_at), func.sum(Metric.value)
        ).where(Metric.account_id == account_id),
        select(
            func.count(), func.max(HealthScoreRecord.id), func.max(HealthScoreRecord.computed_at)
        ).where(HealthScoreRecord.account_id == account_id),
        select_columns(
            func.count(),
            func.max(override.id),
            func.max(override.created_at),
            func.max(override.removed_at),
            func.sum(case((in_force, 1), else_=0)),
        ).where(override.account_id == account_id),
        *trend_facts(account_id)[:1],
        select(func.count(), func.max(topic_rollup.id), func.max(topic_rollup.updated_at)).where(
            topic_rollup.account_id == account_id
        ),
        select(func.max(AccountDailyRollup.day)),
        _configs(),
        _active_version(),
    ]


def account_fact_query() -> FactQuery:
    """`account_facts` as one prebuilt statement; read it with the parameters
    `{"account_id": ..., "now": ...}`."""
    return FactQuery(account_facts(bindparam("account_id"), bindparam("now")))


def feature_facts() -> list[Select[*tuple[Any, ...]]]:
    """What point-in-time features read: messages, their scores, topics, competitor mentions
    and corrections, metrics, accounts (all counted by the write counters in
    `data_versions`, which triggers move in the same transaction as every insert, update or
    delete of those tables) and the active model version."""
    return [
        select(func.coalesce(func.sum(DataVersion.version), 0)),
        _active_version(),
    ]


def trend_facts(
    account_id: str | BindParameter[str] | None = None,
) -> list[Select[*tuple[Any, ...]]]:
    """What trends read: the daily rollups (of one account, or all), accounts (segments) and
    the active model version."""
    rollups = select(
        func.count(), func.max(AccountDailyRollup.id), func.max(AccountDailyRollup.updated_at)
    )
    accounts = select(func.count(), func.max(Account.updated_at))
    if account_id is not None:
        rollups = rollups.where(AccountDailyRollup.account_id == account_id)
        accounts = accounts.where(col(Account.id) == account_id)
    return [rollups, accounts, _active_version()]


def topic_trend_facts(account_id: str | None) -> Select[*tuple[Any, ...]]:
    """What a topic trend reads beyond a plain trend's facts: the topic rollups (rewritten by
    delete + insert, so the highest id moves with every change)."""
    rollup = AccountDailyTopicRollup
    facts = select(func.count(), func.max(rollup.id), func.max(rollup.updated_at))
    if account_id is not None:
        facts = facts.where(rollup.account_id == account_id)
    return facts


def _token(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float):
        return f"{value:.9g}"  # sums may differ in the last bits between query plans
    return repr(value)


class _FirstSeen:
    """When this process first handed out each ETag (bounded, oldest out)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def at(self, etag: str, now: datetime) -> datetime:
        with self._lock:
            seen = self._seen.setdefault(etag, now)
            self._seen.move_to_end(etag)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return seen


_first_seen = _FirstSeen(FIRST_SEEN_SIZE)


class FactQuery:
    """Fact statements combined into one SELECT (see `read_facts`), built once. Facts built
    with bound parameters (`bindparam`) are read with `rows(session, params)`, so a request
    neither rebuilds nor re-derives the statement: building it costs more CPU than a cached
    answer's whole request otherwise."""

    __slots__ = ("statement", "widths")

    def __init__(self, facts: Sequence[Select[*tuple[Any, ...]]]) -> None:
        self.widths = [len(statement.selected_columns) for statement in facts]
        self.statement = _combined(facts)

    def rows(
        self, session: Session, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Each fact statement's one row."""
        if self.statement is None:
            return []
        row = session.execute(self.statement, dict(params or {})).one()
        rows, start = [], 0
        for width in self.widths:
            rows.append(tuple(row[start : start + width]))
            start += width
        return rows


def _combined(facts: Sequence[Select[*tuple[Any, ...]]]) -> Select[*tuple[Any, ...]] | None:
    if not facts:
        return None
    columns: list[Any] = []
    joined: Any = None
    for statement in facts:
        if statement.whereclause is not None:
            columns += [
                statement.with_only_columns(column).scalar_subquery()
                for column in statement.selected_columns
            ]
            continue
        part = statement.subquery()
        columns += list(part.c)
        joined = part if joined is None else joined.join(part, true())
    return select(*columns) if joined is None else select(*columns).select_from(joined)


def read_facts(
    session: Session,
    facts: Sequence[Select[*tuple[Any, ...]]] | FactQuery,
    params: Mapping[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Each fact statement's one row, all read in a single statement. Facts are aggregates
    without GROUP BY (exactly one row each). A fact with a WHERE clause (an index lookup, e.g.
    one account's rows) becomes one scalar sub-query per column, which PostgreSQL plans
    quickly; a fact over a whole table is a sub-query joined beside the others, so that the
    table is scanned once for all its columns. A prebuilt `FactQuery` takes `params`."""
    query = facts if isinstance(facts, FactQuery) else FactQuery(facts)
    return query.rows(session, params)


# Immutable: one statement, read with each request's parameters.
ACCOUNT_FACTS = account_fact_query()


def validators(
    session: Session,
    request: Request,
    facts: Sequence[Select[*tuple[Any, ...]]] | FactQuery,
    *,
    params: Mapping[str, Any] | None = None,
    extra: Sequence[object] = (),
    now: datetime | None = None,
) -> Validators:
    """The validators of the representation `request` asks for, given its data's facts
    (a prebuilt `FactQuery` with its `params`)."""
    rows = read_facts(session, facts, params)
    digest = hashlib.sha256()
    parts: list[object] = [
        __version__,
        request.url.path,
        sorted(request.query_params.multi_items()),
        *extra,
    ]
    for part in [*parts, *rows]:
        if isinstance(part, tuple):
            digest.update("|".join(_token(v) for v in part).encode())
        else:
            digest.update(_token(part).encode())
        digest.update(b"\x1f")
    etag = f'W/"{digest.hexdigest()[:32]}"'
    now = now or datetime.now(UTC)
    stamps = [v for row in rows for v in row if isinstance(v, datetime)]
    newest = max([*stamps, _first_seen.at(etag, now)])
    return Validators(etag, min(newest, now))


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def is_fresh(request: Request, current: Validators) -> bool:
    """Whether the client's copy is current (If-None-Match first, else If-Modified-Since)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        wanted = _opaque(current.etag)
        return any(_opaque(tag) == wanted for tag in if_none_match.split(","))
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False  # an unparsable date is ignored (RFC 9110)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return current.last_modified.replace(microsecond=0) <= since
    return False


def not_modified(request: Request, current: Validators) -> Response | None:
    """A 304 when the client's copy is current, else None."""
    if is_fresh(request, current):
        return Response(status_code=304, headers=current.headers())
    return None


def set_headers(response: Response, current: Validators) -> None:
    """Put the validators and Cache-Control on a full response."""
    response.headers.update(current.headers())


# --- the response cache -------------------------------------------------------------------


class ResponseCache:
    """Rendered JSON bodies keyed by (ETag, caller's scope), least recently used out once
    their total size passes `max_bytes` (0: nothing is kept). Thread-safe; one per app."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._rendering: dict[tuple[str, str], threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get_or_render(self, key: tuple[str, str], render: Callable[[], bytes]) -> bytes:
        """The body under `key`; on a miss, `render()` it once while concurrent callers for
        the same key wait for that body instead of rendering it again."""
        if (body := self.get(key)) is not None:
            return body
        with self._lock:
            gate = self._rendering.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                body = self._bodies.get(key)
            if body is None:
                body = render()
                self.put(key, body)
        with self._lock:
            self._rendering.pop(key, None)
        return body

    def get(self, key: tuple[str, str]) -> bytes | None:
        """The body stored under `key`, if any."""
        with self._lock:
            body = self._bodies.get(key)
            if body is None:
                self.misses += 1
                return None
            self._bodies.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: tuple[str, str], body: bytes) -> None:
        """Keep `body` under `key` (a body larger than the whole cache is not kept)."""
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if (old := self._bodies.pop(key, None)) is not None:
                self._size -= len(old)
            self._bodies[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _, dropped = self._bodies.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._bodies)


def cached_json(
    request: Request,
    cache: ResponseCache,
    current: Validators,
    scope: AccountScope | None,
    render: Callable[[], bytes],
) -> Response:
    """A 304 when the client's copy is current; else the body cached under the ETag and the
    caller's scope, or `render()`ed now and kept. The answer carries the validators."""
    if (unchanged := not_modified(request, current)) is not None:
        return unchanged
    body = cache.get_or_render((current.etag, scope_token(scope)), render)
    return Response(body, media_type="application/json", headers=current.headers())
