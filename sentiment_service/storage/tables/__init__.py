"""Database tables. Alembic migrations (not `create_all`) create them.

One module per domain: `records` (what is ingested), `derived` (scores, topics, rollups),
`health`, `evaluation` (labels, evaluations, model jobs), `alerts` and `access` (keys,
sessions, audit log). Every table is re-exported here, so `from
sentiment_service.storage.tables import Account` works and importing this package
registers every table in `SQLModel.metadata` (Alembic's `env.py` relies on that).
"""

from __future__ import annotations

from sentiment_service.storage.tables.access import ApiKey, AuditLogEntry, DashboardSession
from sentiment_service.storage.tables.alerts import AlertDelivery, AlertEvent, AlertRule
from sentiment_service.storage.tables.derived import (
    AccountDailyRollup,
    AccountDailyTopicRollup,
    CompetitorMention,
    DataVersion,
    MessageScore,
    MessageTopic,
    PipelineState,
    ScoringQueueItem,
    TopicCorrection,
)
from sentiment_service.storage.tables.evaluation import (
    EvaluationItem,
    EvaluationRun,
    LabelCorrection,
    LabelledItem,
    LabelledSet,
    ModelJob,
    ModelPromotion,
)
from sentiment_service.storage.tables.health import (
    ConfigVersion,
    FeatureSnapshot,
    HealthOverride,
    HealthScoreRecord,
)
from sentiment_service.storage.tables.records import (
    Account,
    AccountExternalId,
    AccountOutcome,
    Contact,
    Message,
    Metric,
    QuarantineKey,
    QuarantineRecord,
    SyncState,
)

__all__ = [
    "Account",
    "AccountDailyRollup",
    "AccountDailyTopicRollup",
    "AccountExternalId",
    "AccountOutcome",
    "AlertDelivery",
    "AlertEvent",
    "AlertRule",
    "ApiKey",
    "AuditLogEntry",
    "CompetitorMention",
    "ConfigVersion",
    "Contact",
    "DashboardSession",
    "DataVersion",
    "EvaluationItem",
    "EvaluationRun",
    "FeatureSnapshot",
    "HealthOverride",
    "HealthScoreRecord",
    "LabelCorrection",
    "LabelledItem",
    "LabelledSet",
    "Message",
    "MessageScore",
    "MessageTopic",
    "Metric",
    "ModelJob",
    "ModelPromotion",
    "PipelineState",
    "QuarantineKey",
    "QuarantineRecord",
    "ScoringQueueItem",
    "SyncState",
    "TopicCorrection",
]
