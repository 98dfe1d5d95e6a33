"""Topics for the account and topic pages: the account's topics and competitor mentions, the
portfolio topic summary and the segments to filter it by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from pipelines.topics import active_taxonomy
from sentiment_service import topic_insights as insights
from sentiment_service.auth.scope import AccountScope
from sentiment_service.dashboard.views.scores import distinct_values
from sentiment_service.storage.tables import Account

COMPETITORS_SHOWN = 10


@dataclass
class AccountTopicsView:
    """The account's topics with their sentiment and its competitor mentions."""

    start: date
    end: date
    topics: list[insights.AccountTopicOut]
    competitors: list[insights.AccountCompetitorOut]
    competitor_total: int


def account_topics(session: Session, account_id: str) -> AccountTopicsView:
    """Topics and competitor mentions in the default topic period (as GET /v1/accounts/{id}/
    topics, without the keyphrases, which need the spaCy model)."""
    period = insights.resolve_period(session, None, None)
    taxonomy, _ = active_taxonomy(session)
    topics = insights.account_topic_stats(
        session, account_id, period, insights.topic_names(taxonomy)
    )
    competitors, total = insights.account_competitors(session, account_id, period)
    return AccountTopicsView(
        start=period.start,
        end=period.end,
        topics=topics,
        competitors=competitors[:COMPETITORS_SHOWN],
        competitor_total=total,
    )


def topic_summary(
    session: Session,
    *,
    segment: str | None,
    source: str | None,
    scope: AccountScope | None = None,
) -> insights.TopicSummaryOut:
    """The portfolio topic summary of the default period (over the accounts in `scope`)."""
    period = insights.resolve_period(session, None, None)
    return insights.topic_summary(session, period, segment=segment, source=source, scope=scope)


def segments(session: Session, scope: AccountScope | None = None) -> list[str]:
    """Every segment that accounts (in `scope`) use."""
    return distinct_values(session, Account.segment, scope)
