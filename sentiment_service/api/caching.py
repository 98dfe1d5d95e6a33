"""Conditional GETs: weak ETags and Last-Modified from cheap database facts, and 304s.

A response's validators are derived, before the expensive work, from aggregates that move
whenever the data behind it can have changed: row counts, the highest row id (new rows; the
pipelines replace derived rows by delete + insert, so ids move on a rewrite) and the newest
change timestamps of the tables it reads, the active model version, the path and the sorted
query string, and the service version (a new release may render differently). A
representation that depends on the clock (features "as of now") adds the current minute.
ETags are weak: equal tags mean the same data, not byte-equal bodies.

Last-Modified is the later of the newest timestamp among those facts and the moment this
process first saw the ETag, so changes without a timestamp of their own (a deleted row, an
updated metric value) also move it forward. `If-None-Match` wins over `If-Modified-Since`
(RFC 9110); the latter has one-second resolution, so prefer ETags.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy import Select, func
from sqlmodel import Session, col, select

from pipelines.queue import ACTIVE_VERSION_KEY
from sentiment_service import __version__
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    CompetitorMention,
    LabelCorrection,
    Message,
    MessageScore,
    MessageTopic,
    Metric,
    PipelineState,
    TopicCorrection,
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


def _active_version() -> Select[Any]:
    return select(PipelineState.value, PipelineState.updated_at).where(
        PipelineState.key == ACTIVE_VERSION_KEY
    )


def feature_facts() -> list[Select[Any]]:
    """What point-in-time features read: messages, their scores, topics, competitor mentions
    and corrections, metrics, accounts and the active model version."""
    return [
        select(
            func.count(),
            func.max(Message.id),
            func.max(Message.updated_at),
            func.max(Message.ingested_at),
        ),
        select(
            func.count(),
            func.max(Metric.id),
            func.max(Metric.ingested_at),
            func.sum(Metric.value),
        ),
        select(func.count(), func.max(MessageScore.id)),
        select(func.count(), func.max(MessageTopic.id)),
        select(func.count(), func.max(CompetitorMention.id)),
        select(func.count(), func.max(LabelCorrection.id), func.max(LabelCorrection.corrected_at)),
        select(func.count(), func.max(TopicCorrection.id), func.max(TopicCorrection.corrected_at)),
        select(func.count(), func.max(Account.updated_at)),
        _active_version(),
    ]


def trend_facts(account_id: str | None = None) -> list[Select[Any]]:
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


def topic_trend_facts(account_id: str | None) -> Select[Any]:
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


def validators(
    session: Session,
    request: Request,
    facts: Sequence[Select[Any]],
    *,
    extra: Sequence[object] = (),
    now: datetime | None = None,
) -> Validators:
    """The validators of the representation `request` asks for, given its data's facts."""
    rows = [tuple(session.execute(statement).first() or ()) for statement in facts]
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
