"""Topic stage of the pipeline: topics and competitor mentions of scored messages.

A message's topic rows are replaced whenever it is scored, so they always come from the
topic model in force at that time (each row names its version). After a taxonomy change,
`sentiment-service retopic` re-assigns stored messages.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from models.message_sentiment import MessageSentiment, MessageSentimentScorer
from models.multilingual.routing import is_english, reads_language, score_messages
from models.multilingual.topics import zero_shot_for
from models.text_cleaning import clean_message
from models.topics.assign import TopicAssigner
from models.topics.heads import TopicExample
from models.topics.taxonomy import Taxonomy, load_taxonomy, parse_taxonomy
from pipelines import rollups
from pipelines.row_ids import stored_id
from sentiment_service import config_store
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    CompetitorMention,
    Message,
    MessageTopic,
    PipelineState,
    TopicCorrection,
)

if TYPE_CHECKING:
    from sentiment_service.model_hub import ModelHub

TAXONOMY_KIND = "taxonomy"
TAXONOMY_KEY = "default"


@functools.cache
def default_taxonomy() -> Taxonomy:
    """The shipped taxonomy, parsed once per process: the file ships with the code and the
    model is frozen. Reads (account detail, trends) would otherwise parse its YAML each time."""
    return load_taxonomy()


def active_taxonomy(session: Session) -> tuple[Taxonomy, int | None]:
    """The published taxonomy in force and its version (the shipped default: version None)."""
    stored = config_store.latest(session, TAXONOMY_KIND, TAXONOMY_KEY)
    if stored is None:
        return default_taxonomy(), None
    return parse_taxonomy(stored.body), stored.version


def correction_examples(session: Session, limit: int = 5000) -> list[TopicExample]:
    """People's topic corrections (the newest per message and topic) as training examples."""
    rows = session.exec(
        select(
            TopicCorrection.message_id, TopicCorrection.topic, TopicCorrection.present, Message.text
        )
        .join(Message, col(Message.id) == col(TopicCorrection.message_id))
        .order_by(col(TopicCorrection.id).desc())
        .limit(limit)
    ).all()
    newest: dict[tuple[int, str], TopicExample] = {}
    for message_id, topic, present, text in rows:
        newest.setdefault(
            (message_id, topic), TopicExample(clean_message(text).text, topic, present)
        )
    return list(newest.values())


def topic_model(session: Session, hub: ModelHub) -> TopicAssigner:
    """The topic model in force: the published taxonomy plus heads from corrections.

    Called per worker batch: the corrections are only read again when their count or newest
    id changed.
    """
    count, newest = session.exec(
        select(func.count(), func.max(TopicCorrection.id)).select_from(TopicCorrection)
    ).one()
    return hub.topic_assigner(
        active_taxonomy(session)[0],
        lambda: correction_examples(session),
        corrections_stamp=f"{count}:{newest}",
    )


def account_attributes(session: Session, account_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Attributes that segment rules can match, per account."""
    if not account_ids:
        return {}
    accounts = session.exec(select(Account).where(col(Account.id).in_(account_ids))).all()
    return {
        account.id: {
            "segment": account.segment,
            "industry": account.industry,
            "tier": account.tier,
            "owner": account.owner,
        }
        for account in accounts
    }


def store_topics(
    session: Session,
    messages: Sequence[Message],
    results: Sequence[MessageSentiment | None],
    assigner: TopicAssigner,
    zero_shot: Callable[[TopicAssigner], TopicAssigner] | None = None,
) -> int:
    """Replace the topic and competitor rows of `messages`; returns topic rows written.

    English messages (and those of unknown language) get `assigner`'s topics; messages in
    other languages get the zero-shot multilingual topics of the same taxonomy (`zero_shot`
    builds that assigner; default: models/multilingual/topics.py).
    """
    ids = [message.id for message in messages if message.id is not None]
    session.execute(delete(MessageTopic).where(col(MessageTopic.message_id).in_(ids)))
    session.execute(delete(CompetitorMention).where(col(CompetitorMention.message_id).in_(ids)))
    scored = [(m, r) for m, r in zip(messages, results, strict=True) if r is not None]
    if not scored:
        return 0
    attributes = account_attributes(session, {m.account_id for m, _ in scored if m.account_id})
    english = [i for i, (m, _) in enumerate(scored) if is_english(m.language)]
    others = [i for i, (m, _) in enumerate(scored) if not is_english(m.language)]
    groups = [(english, assigner)]
    if others:
        groups.append((others, (zero_shot or zero_shot_for)(assigner)))
    found: list[Any] = [None] * len(scored)
    used = [assigner] * len(scored)
    for indexes, chosen in groups:
        if not indexes:
            continue
        assigned = chosen.assign(
            [scored[i][1] for i in indexes],
            [attributes.get(scored[i][0].account_id or "") for i in indexes],
        )
        for i, topics in zip(indexes, assigned, strict=True):
            found[i], used[i] = topics, chosen
    written = 0
    for (message, result), topics, chosen in zip(scored, found, used, strict=True):
        message_id = stored_id(message.id, "message")
        for finding in topics.topics:
            session.add(
                MessageTopic(
                    message_id=message_id,
                    model_version=chosen.version,
                    topic=finding.topic,
                    confidence=finding.confidence,
                    sentence_index=finding.evidence_index,
                    evidence=finding.evidence,
                    sentence_count=len(finding.sentence_indexes),
                    score=finding.score,
                    label=finding.label,
                )
            )
            written += 1
        seen: set[tuple[str, int]] = set()
        for mention in topics.competitors:
            if (mention.competitor_key, mention.sentence_index) in seen:
                continue
            seen.add((mention.competitor_key, mention.sentence_index))
            sentence = result.sentences[mention.sentence_index]
            session.add(
                CompetitorMention(
                    message_id=message_id,
                    model_version=chosen.version,
                    competitor=mention.competitor_key,
                    alias=mention.alias,
                    intent=mention.intent,
                    sentence_index=mention.sentence_index,
                    evidence=sentence.text,
                    score=sentence.score,
                    label=sentence.label,
                )
            )
    return written


@dataclass
class RetopicSummary:
    """What a re-assignment run did."""

    topic_version: str
    messages: int = 0
    topic_rows: int = 0
    rollup_rows: int = 0
    resumed_after_id: int = 0
    seconds: float = 0.0


def retopic(
    database: Database,
    scorer: MessageSentimentScorer,
    assigner: TopicAssigner,
    *,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    max_batches: int | None = None,
) -> RetopicSummary:
    """Re-assign topics of every stored message with `assigner` (after a taxonomy change).

    Progress is saved per batch under the topic version, so an interrupted run resumes where
    it stopped. Topic rollups are rebuilt for the days touched by each batch.
    """
    started = time.perf_counter()
    state_key = f"retopic:{hashlib.sha256(assigner.version.encode()).hexdigest()[:16]}"
    with database.session() as session:
        saved = session.get(PipelineState, state_key)
        after_id = int(saved.value) if saved else 0
    summary = RetopicSummary(assigner.version, resumed_after_id=after_id)
    batches = 0
    while max_batches is None or batches < max_batches:
        with database.session(write=True) as session:
            messages = list(
                session.exec(
                    select(Message)
                    .where(col(Message.id) > after_id)
                    .order_by(col(Message.id))
                    .limit(batch_size)
                ).all()
            )
            if not messages:
                break
            results: list[MessageSentiment | None] = [None] * len(messages)
            readable = [
                i
                for i, m in enumerate(messages)
                if m.duplicate_of is None and reads_language(scorer, m.language)
            ]
            scored = score_messages(
                scorer,
                [messages[i].text for i in readable],
                [messages[i].language for i in readable],
            )
            for i, result in zip(readable, scored, strict=True):
                results[i] = result
            summary.topic_rows += store_topics(session, messages, results, assigner)
            session.flush()
            days = {(m.account_id, m.created_at.date()) for m in messages if m.account_id}
            for account_id, day in sorted(days):
                start, end = rollups.day_bounds(day)
                summary.rollup_rows += rollups.recompute_topics(
                    session, account_id, day, start, end
                )
            after_id = messages[-1].id or after_id
            row = session.get(PipelineState, state_key) or PipelineState(key=state_key, value="0")
            row.value = str(after_id)
            session.add(row)
        summary.messages += len(messages)
        batches += 1
        if progress is not None:
            progress(len(messages))
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary
