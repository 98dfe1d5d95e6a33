"""Topic insights behind the `/v1/taxonomy`, `/v1/topics` and topic-correction endpoints.

What is counted: customer-authored messages. Summaries, drill-downs and account views cover
messages linked to an account (the population of the daily rollups they read); emerging topics
look at every customer-authored English message, linked or not, because unlinked social posts
are often where a new subject shows first.

Periods are whole UTC days, `start` and `end` both included. Without them a summary covers
the `DEFAULT_PERIOD_DAYS` days up to the day of the latest customer message, and is compared
with the period of equal length just before it. Periods longer than `MAX_PERIOD_DAYS` are
refused.

Work is bounded so that one request stays cheap on a small CPU machine:

- emerging topics embed at most `EMERGING_CAP_PER_WINDOW` messages per window (the newest),
  and say in the response when a window was cut;
- an account's keyphrases are ranked (c-TF-IDF) against the other accounts over the same
  period from at most `KEYPHRASE_MAX_PER_ACCOUNT` messages per account and
  `KEYPHRASE_MAX_MESSAGES` in all (the account's own first, then the newest of the others);
- an account view lists at most `ACCOUNT_COMPETITOR_LIMIT` competitor mentions (the newest)
  and gives their total.

A caller whose key is scoped to segments/owners (an `AccountScope`) gets every view computed
over the accounts in its scope only: summaries, drill-downs, emerging clusters (unlinked
messages belong to no scope) and the set of other accounts that an account's keyphrases are
ranked against. Default periods still end on the portfolio's latest message day, so that
every caller sees the same numbers for the same account.

Topic corrections are stored beside the model output (the newest per message and topic
counts); they do not change the summaries, which report what the model found.

The work is split by view, one module each (this package re-exports their public names, so
`from sentiment_service import topic_insights as insights` keeps working):

- `periods`: `DayRange`, `resolve_period`, `check_day`, `latest_message_day`,
  `account_filter` and the customer-message filters every view shares; `DEFAULT_PERIOD_DAYS`,
  `MAX_PERIOD_DAYS`, `MIN_DAY`, `MAX_DAY`;
- `taxonomy`: the taxonomy in force, its change log, `publish_taxonomy`, `promote_topic`,
  `topic_names`; `RETOPIC_NOTE`;
- `summary`: `topic_summary` (topics and competitor counts over a period);
- `drilldown`: `topic_messages` and its cursors (`encode_cursor`, `decode_cursor`),
  `topic_exists`;
- `emerging`: `emerging_topics`; `MAX_WINDOW_DAYS`, `EMERGING_CAP_PER_WINDOW`;
- `account`: `account_topics`, `account_topic_stats`, `account_competitors` and keyphrases;
  `KEYPHRASE_MAX_PER_ACCOUNT`, `KEYPHRASE_MAX_MESSAGES`, `KEYPHRASE_TOP_K`,
  `ACCOUNT_COMPETITOR_LIMIT`;
- `message`: one message's topics (`message_topics`) and corrections (`correct_topic`,
  `effective_corrections`).
"""

from __future__ import annotations

from sentiment_service.topic_insights.account import (
    ACCOUNT_COMPETITOR_LIMIT,
    KEYPHRASE_MAX_MESSAGES,
    KEYPHRASE_MAX_PER_ACCOUNT,
    KEYPHRASE_TOP_K,
    AccountCompetitorOut,
    AccountTopicOut,
    AccountTopicsOut,
    EvidenceOut,
    KeyphraseBasisOut,
    KeyphraseOut,
    account_competitors,
    account_topic_stats,
    account_topics,
)
from sentiment_service.topic_insights.drilldown import (
    TopicMessageOut,
    decode_cursor,
    encode_cursor,
    topic_exists,
    topic_messages,
)
from sentiment_service.topic_insights.emerging import (
    EMERGING_CAP_PER_WINDOW,
    MAX_WINDOW_DAYS,
    EmergingClusterOut,
    EmergingExampleOut,
    EmergingOut,
    WindowOut,
    emerging_topics,
)
from sentiment_service.topic_insights.message import (
    MessageCompetitorOut,
    MessageTopicOut,
    MessageTopicsOut,
    TopicCorrectionOut,
    correct_topic,
    effective_corrections,
    message_topics,
)
from sentiment_service.topic_insights.periods import (
    DEFAULT_PERIOD_DAYS,
    MAX_DAY,
    MAX_PERIOD_DAYS,
    MIN_DAY,
    DayRange,
    account_filter,
    check_day,
    latest_message_day,
    resolve_period,
)
from sentiment_service.topic_insights.summary import (
    CompetitorStatOut,
    TopicStatOut,
    TopicSummaryOut,
    topic_summary,
)
from sentiment_service.topic_insights.taxonomy import (
    RETOPIC_NOTE,
    TaxonomyOut,
    TaxonomyPublishedOut,
    TaxonomyVersionOut,
    promote_topic,
    publish_taxonomy,
    taxonomy_versions,
    taxonomy_view,
    topic_names,
)

__all__ = [
    "ACCOUNT_COMPETITOR_LIMIT",
    "DEFAULT_PERIOD_DAYS",
    "EMERGING_CAP_PER_WINDOW",
    "KEYPHRASE_MAX_MESSAGES",
    "KEYPHRASE_MAX_PER_ACCOUNT",
    "KEYPHRASE_TOP_K",
    "MAX_DAY",
    "MAX_PERIOD_DAYS",
    "MAX_WINDOW_DAYS",
    "MIN_DAY",
    "RETOPIC_NOTE",
    "AccountCompetitorOut",
    "AccountTopicOut",
    "AccountTopicsOut",
    "CompetitorStatOut",
    "DayRange",
    "EmergingClusterOut",
    "EmergingExampleOut",
    "EmergingOut",
    "EvidenceOut",
    "KeyphraseBasisOut",
    "KeyphraseOut",
    "MessageCompetitorOut",
    "MessageTopicOut",
    "MessageTopicsOut",
    "TaxonomyOut",
    "TaxonomyPublishedOut",
    "TaxonomyVersionOut",
    "TopicCorrectionOut",
    "TopicMessageOut",
    "TopicStatOut",
    "TopicSummaryOut",
    "WindowOut",
    "account_competitors",
    "account_filter",
    "account_topic_stats",
    "account_topics",
    "check_day",
    "correct_topic",
    "decode_cursor",
    "effective_corrections",
    "emerging_topics",
    "encode_cursor",
    "latest_message_day",
    "message_topics",
    "promote_topic",
    "publish_taxonomy",
    "resolve_period",
    "taxonomy_versions",
    "taxonomy_view",
    "topic_exists",
    "topic_messages",
    "topic_names",
    "topic_summary",
]
