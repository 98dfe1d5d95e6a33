"""Accounts: create or update an account and its vendor ids, with an audit trail; read views
with health, sentiment windows, topics and negative evidence.

One module per job: `records` (the scope check), `windows` (where sentiment windows end),
`listing` (the filtered, sorted, paged account list), `detail` (the sections of one account's
read) and `messages` (an account's scored messages). The account fields, views and upsert
with vendor ids (`pipelines.account_records`) and the accounts created on ingestion
(`pipelines.placeholder_accounts`) sit below the service, where ingestion and the connectors
use them. The names below are re-exported so that `from sentiment_service.accounts import ...`
keeps working.
"""

from __future__ import annotations

from pipelines.account_records import (
    AccountId,
    AccountIn,
    AccountOut,
    ShortText,
    account_out,
    accounts_out,
    upsert_account,
)
from pipelines.placeholder_accounts import create_placeholder_account
from sentiment_service.accounts.detail import (
    EVIDENCE_MESSAGES,
    INCLUDE_SECTIONS,
    QUOTE_CHARS,
    TOP_TOPICS,
    AccountSentimentOut,
    AccountTopicSummaryOut,
    AccountTopicsWindowOut,
    NegativeMessageOut,
    account_sentiment,
    account_top_topics,
    negative_evidence,
    parse_include,
)
from sentiment_service.accounts.listing import (
    AccountListItemOut,
    AccountSort,
    HealthSummaryOut,
    list_accounts,
)
from sentiment_service.accounts.messages import ScoredMessageOut, account_messages
from sentiment_service.accounts.records import account_ids, visible_account
from sentiment_service.accounts.windows import LONG_WINDOW_DAYS, SHORT_WINDOW_DAYS, sentiment_anchor
from sentiment_service.pagination import MAX_OFFSET, decode_offset_cursor, encode_offset_cursor

__all__ = [
    "EVIDENCE_MESSAGES",
    "INCLUDE_SECTIONS",
    "LONG_WINDOW_DAYS",
    "MAX_OFFSET",
    "QUOTE_CHARS",
    "SHORT_WINDOW_DAYS",
    "TOP_TOPICS",
    "AccountId",
    "AccountIn",
    "AccountListItemOut",
    "AccountOut",
    "AccountSentimentOut",
    "AccountSort",
    "AccountTopicSummaryOut",
    "AccountTopicsWindowOut",
    "HealthSummaryOut",
    "NegativeMessageOut",
    "ScoredMessageOut",
    "ShortText",
    "account_ids",
    "account_messages",
    "account_out",
    "account_sentiment",
    "account_top_topics",
    "accounts_out",
    "create_placeholder_account",
    "decode_offset_cursor",
    "encode_offset_cursor",
    "list_accounts",
    "negative_evidence",
    "parse_include",
    "sentiment_anchor",
    "upsert_account",
    "visible_account",
]
