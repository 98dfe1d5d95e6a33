"""Topic insights: one account's topics, competitor mentions and typical keyphrases.

An account's keyphrases are ranked (c-TF-IDF) against the other accounts over the same
period from at most `KEYPHRASE_MAX_PER_ACCOUNT` messages per account and
`KEYPHRASE_MAX_MESSAGES` in all (the account's own first, then the newest of the others); an
account view lists at most `ACCOUNT_COMPETITOR_LIMIT` competitor mentions (the newest) and
gives their total.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.text_cleaning import clean_message
from models.topics.keyphrases import count_by_group, rank_keyphrases
from pipelines.topics import active_taxonomy
from sentiment_service.accounts import visible_account
from sentiment_service.auth.scope import AccountScope
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import (
    AccountDailyTopicRollup,
    CompetitorMention,
    Message,
    MessageTopic,
)
from sentiment_service.topic_insights.periods import (
    DayRange,
    _customer_messages,
    _english,
    _scope_filter,
    resolve_period,
)
from sentiment_service.topic_insights.summary import _ratio
from sentiment_service.topic_insights.taxonomy import topic_names

KEYPHRASE_MAX_PER_ACCOUNT = 500
KEYPHRASE_MAX_MESSAGES = 5_000
KEYPHRASE_TOP_K = 10
ACCOUNT_COMPETITOR_LIMIT = 100


class EvidenceOut(BaseModel):
    """A quoted sentence and the message it comes from."""

    message_id: int
    created_at: datetime
    text: str
    label: str | None
    score: float | None
    language: str | None = None


class AccountTopicOut(BaseModel):
    """One topic of an account over the period."""

    topic: str
    name: str | None
    mentions: int
    mean_sentiment: float | None
    negative_share: float | None
    latest_evidence: EvidenceOut | None


class AccountCompetitorOut(BaseModel):
    """A competitor named by the account."""

    competitor: str
    alias: str
    intent: str
    message_id: int
    created_at: datetime
    evidence: str
    label: str | None
    score: float | None


class KeyphraseOut(BaseModel):
    """A phrase typical of the account: c-TF-IDF weight and how many messages hold it."""

    phrase: str
    weight: float
    messages: int


class KeyphraseBasisOut(BaseModel):
    """What the keyphrase ranking read."""

    account_messages: int
    other_messages: int
    other_accounts: int
    max_per_account: int
    max_messages: int


class AccountTopicsOut(BaseModel):
    """An account's topics, competitor mentions and typical keyphrases over a period."""

    account_id: str
    start: date
    end: date
    taxonomy_version: int | None
    topics: list[AccountTopicOut]
    competitors: list[AccountCompetitorOut]
    competitor_mentions_total: int
    keyphrases: list[KeyphraseOut]
    keyphrase_basis: KeyphraseBasisOut


def _latest_evidence(
    session: Session, account_id: str, topic: str, period: DayRange
) -> EvidenceOut | None:
    low, high = period.bounds()
    row = session.exec(
        select(Message, MessageTopic)
        .join(MessageTopic, col(MessageTopic.message_id) == col(Message.id))
        .where(MessageTopic.topic == topic, *_customer_messages(low, high, account_id=account_id))
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    message, finding = row
    return EvidenceOut(
        message_id=message.id or 0,
        created_at=message.created_at,
        text=finding.evidence,
        label=finding.label,
        score=finding.score,
        language=message.language,
    )


def account_topic_stats(
    session: Session, account_id: str, period: DayRange, names: dict[str, str]
) -> list[AccountTopicOut]:
    rollup = AccountDailyTopicRollup
    rows = session.exec(
        select_columns(
            rollup.topic,
            func.sum(rollup.mentions),
            func.sum(rollup.scored_count),
            func.sum(rollup.score_sum),
            func.sum(rollup.negative_count),
        )
        .where(
            rollup.account_id == account_id,
            col(rollup.day) >= period.start,
            col(rollup.day) <= period.end,
        )
        .group_by(rollup.topic)
    ).all()
    stats = [
        AccountTopicOut(
            topic=topic,
            name=names.get(topic),
            mentions=int(mentions or 0),
            mean_sentiment=_ratio(float(total or 0.0), int(scored or 0)),
            negative_share=_ratio(int(negative or 0), int(scored or 0)),
            latest_evidence=_latest_evidence(session, account_id, topic, period),
        )
        for topic, mentions, scored, total, negative in rows
    ]
    return sorted(stats, key=lambda stat: (-stat.mentions, stat.topic))


def account_competitors(
    session: Session, account_id: str, period: DayRange
) -> tuple[list[AccountCompetitorOut], int]:
    low, high = period.bounds()
    conditions = _customer_messages(low, high, account_id=account_id)
    joined = select(Message, CompetitorMention).join(
        CompetitorMention, col(CompetitorMention.message_id) == col(Message.id)
    )
    total = session.exec(
        select(func.count())
        .select_from(CompetitorMention)
        .join(Message, col(Message.id) == col(CompetitorMention.message_id))
        .where(*conditions)
    ).one()
    rows = session.exec(
        joined.where(*conditions)
        .order_by(
            col(Message.created_at).desc(),
            col(Message.id).desc(),
            col(CompetitorMention.sentence_index),
        )
        .limit(ACCOUNT_COMPETITOR_LIMIT)
    ).all()
    mentions = [
        AccountCompetitorOut(
            competitor=mention.competitor,
            alias=mention.alias,
            intent=mention.intent,
            message_id=message.id or 0,
            created_at=message.created_at,
            evidence=mention.evidence,
            label=mention.label,
            score=mention.score,
        )
        for message, mention in rows
    ]
    return mentions, int(total or 0)


def _keyphrase_corpus(
    session: Session, account_id: str, period: DayRange, scope: AccountScope | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """The account's texts and (account, text) of the others (those in `scope`, when given),
    within the documented caps."""
    low, high = period.bounds()
    newest = (col(Message.created_at).desc(), col(Message.id).desc())
    own = list(
        session.exec(
            select(Message.text)
            .where(*_customer_messages(low, high, account_id=account_id), _english())
            .order_by(*newest)
            .limit(KEYPHRASE_MAX_PER_ACCOUNT)
        ).all()
    )
    room = KEYPHRASE_MAX_MESSAGES - len(own)
    if not own or room <= 0:
        return own, []
    rank = (
        func.row_number()
        .over(partition_by=col(Message.account_id), order_by=newest)
        .label("position")
    )
    ranked = (
        select_columns(Message.account_id, Message.text, Message.created_at, Message.id, rank)
        .where(
            *_customer_messages(low, high, accounts=_scope_filter(scope)),
            col(Message.account_id) != account_id,
            _english(),
        )
        .subquery()
    )
    others = session.execute(
        select(ranked.c.account_id, ranked.c.text)
        .where(ranked.c.position <= KEYPHRASE_MAX_PER_ACCOUNT)
        .order_by(ranked.c.created_at.desc(), ranked.c.id.desc())
        .limit(room)
    ).all()
    return own, [(str(other), str(text)) for other, text in others]


def _account_keyphrases(
    models: ModelHub, account_id: str, own: list[str], others: list[tuple[str, str]]
) -> list[KeyphraseOut]:
    """The account's phrases ranked by c-TF-IDF against the other accounts."""
    if not own:
        return []
    texts = [clean_message(text).text for text in own] + [
        clean_message(text).text for _, text in others
    ]
    groups = [account_id] * len(own) + [other for other, _ in others]
    counts = count_by_group(groups, models.keyphrases().extract(texts))
    ranked = rank_keyphrases(counts, KEYPHRASE_TOP_K).get(account_id, [])
    return [
        KeyphraseOut(phrase=phrase, weight=round(weight, 4), messages=counts[account_id][phrase])
        for phrase, weight in ranked
    ]


def account_topics(
    database: Database,
    models: ModelHub,
    account_id: str,
    *,
    start: date | None,
    end: date | None,
    scope: AccountScope | None = None,
) -> AccountTopicsOut:
    """Topics, competitor mentions and keyphrases of one account (404 when unknown or outside
    `scope`); keyphrases are ranked against the other accounts in `scope`.

    The default period is the same as the portfolio summary's, so both views agree.
    """
    with database.session() as session:
        visible_account(session, account_id, scope)
        period = resolve_period(session, start, end)
        taxonomy, version = active_taxonomy(session)
        topics = account_topic_stats(session, account_id, period, topic_names(taxonomy))
        competitors, total = account_competitors(session, account_id, period)
        own, others = _keyphrase_corpus(session, account_id, period, scope)
    return AccountTopicsOut(
        account_id=account_id,
        start=period.start,
        end=period.end,
        taxonomy_version=version,
        topics=topics,
        competitors=competitors,
        competitor_mentions_total=total,
        keyphrases=_account_keyphrases(models, account_id, own, others),
        keyphrase_basis=KeyphraseBasisOut(
            account_messages=len(own),
            other_messages=len(others),
            other_accounts=len({other for other, _ in others}),
            max_per_account=KEYPHRASE_MAX_PER_ACCOUNT,
            max_messages=KEYPHRASE_MAX_MESSAGES,
        ),
    )
