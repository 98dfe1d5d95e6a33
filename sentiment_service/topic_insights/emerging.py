"""Topic insights: emerging topics, clusters of unassigned messages that grew against the
previous window.

At most `EMERGING_CAP_PER_WINDOW` messages are embedded per window (the newest), and the
response says when a window was cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlmodel import Session, col, select

from models.text_cleaning import clean_message
from models.topics.emerging import EmergingCluster, UnassignedItem, find_emerging
from models.topics.taxonomy import Taxonomy
from pipelines.topics import active_taxonomy
from sentiment_service.auth.scope import AccountScope
from sentiment_service.errors import InvalidInputError
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.filters import from_customer
from sentiment_service.storage.tables import Message, MessageScore, MessageTopic
from sentiment_service.topic_insights.periods import (
    MIN_DAY,
    DayRange,
    _english,
    check_day,
    latest_message_day,
)

MAX_WINDOW_DAYS = 90
EMERGING_CAP_PER_WINDOW = 5_000


class EmergingExampleOut(BaseModel):
    """A message of a cluster (its cleaned text)."""

    message_id: int
    text: str


class EmergingClusterOut(BaseModel):
    """A cluster of unassigned messages that grew against the previous window."""

    label: str
    keyphrases: list[str]
    size: int
    previous_size: int
    growth: float
    examples: list[EmergingExampleOut]
    topic_seed: dict[str, Any]


class WindowOut(BaseModel):
    """A window of whole UTC days and how many unassigned messages it contributed."""

    start: date
    end: date
    messages: int
    capped: bool


class EmergingOut(BaseModel):
    """Emerging topics: what grew among messages that fit no topic."""

    window_days: int
    min_cluster_size: int
    growth_ratio: float
    current: WindowOut
    previous: WindowOut
    cap_per_window: int
    clusters: list[EmergingClusterOut]
    note: str


@dataclass(frozen=True)
class _Unassigned:
    message_id: int
    text: str
    at: datetime


def _unassigned_messages(
    session: Session, window: DayRange, cap: int, scope: AccountScope | None
) -> list[_Unassigned]:
    """The newest `cap` scored, English, customer messages of a window without any topic
    (with a scope, only those of accounts in it: unlinked messages belong to no scope)."""
    low, high = window.bounds()
    has_topic = select(MessageTopic.id).where(col(MessageTopic.message_id) == col(Message.id))
    scored = select(MessageScore.id).where(
        col(MessageScore.message_id) == col(Message.id), MessageScore.status == "scored"
    )
    query = select(Message.id, Message.text, Message.created_at).where(
        from_customer(),
        col(Message.created_at) >= low,
        col(Message.created_at) < high,
        _english(),
        ~has_topic.exists(),
        scored.exists(),
    )
    if scope is not None:
        query = query.where(col(Message.account_id).in_(scope.account_ids()))
    rows = session.exec(
        query.order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(cap)
    ).all()
    found = [_Unassigned(int(i or 0), clean_message(text).text.strip(), at) for i, text, at in rows]
    return [item for item in found if item.text]


def _cluster_out(cluster: EmergingCluster) -> EmergingClusterOut:
    return EmergingClusterOut(
        label=cluster.label,
        keyphrases=cluster.keyphrases,
        size=cluster.size,
        previous_size=cluster.previous_size,
        growth=round(cluster.growth, 4),
        examples=[
            EmergingExampleOut(message_id=int(message_id), text=text)
            for message_id, text in zip(cluster.example_message_ids, cluster.examples, strict=True)
        ],
        topic_seed=cluster.to_topic_seed(),
    )


def _embed(models: ModelHub, taxonomy: Taxonomy, texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings of `texts` with the topic encoder."""
    return models.topic_assigner(taxonomy).encoder.encode(list(texts))


def emerging_topics(
    database: Database,
    models: ModelHub,
    *,
    end: date | None,
    window_days: int,
    min_cluster_size: int,
    growth_ratio: float,
    scope: AccountScope | None = None,
) -> EmergingOut:
    """Clusters of unassigned messages in the window ending on `end` that grew against the
    window before (see `models.topics.emerging`); with a `scope`, only messages of accounts
    in it are clustered. Models load only when there is enough to cluster."""
    check_day(end, "end")
    with database.session() as session:
        taxonomy, _ = active_taxonomy(session)
        last = end or latest_message_day(session, linked_only=False) or datetime.now(UTC).date()
        current = DayRange(last - timedelta(days=window_days - 1), last)
        previous = current.previous()
        if previous.start < MIN_DAY:
            raise InvalidInputError("end is too early for this window", field="end")
        now_items = _unassigned_messages(session, current, EMERGING_CAP_PER_WINDOW, scope)
        before_items = _unassigned_messages(session, previous, EMERGING_CAP_PER_WINDOW, scope)
    clusters: list[EmergingCluster] = []
    if len(now_items) >= min_cluster_size:
        items = now_items + before_items
        embeddings = _embed(models, taxonomy, [item.text for item in items])
        clusters = find_emerging(
            [
                UnassignedItem(item.text, embeddings[row], item.at, item.message_id)
                for row, item in enumerate(items)
            ],
            window_end=current.bounds()[1],
            window=timedelta(days=window_days),
            min_cluster_size=min_cluster_size,
            growth_ratio=growth_ratio,
            label_fn=models.keyphrases().label,
        )
    return EmergingOut(
        window_days=window_days,
        min_cluster_size=min_cluster_size,
        growth_ratio=growth_ratio,
        current=WindowOut(
            start=current.start,
            end=current.end,
            messages=len(now_items),
            capped=len(now_items) >= EMERGING_CAP_PER_WINDOW,
        ),
        previous=WindowOut(
            start=previous.start,
            end=previous.end,
            messages=len(before_items),
            capped=len(before_items) >= EMERGING_CAP_PER_WINDOW,
        ),
        cap_per_window=EMERGING_CAP_PER_WINDOW,
        clusters=[_cluster_out(cluster) for cluster in clusters],
        note=(
            f"Only the newest {EMERGING_CAP_PER_WINDOW} scored customer messages without a "
            "topic are considered per window; promote a cluster's topic_seed with "
            "POST /v1/topics/emerging/promote."
        ),
    )
