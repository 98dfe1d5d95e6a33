"""Batch ingestion of messages, metrics and outcomes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from pipelines.ingest import Ingestor, IngestPolicy
from sentiment_service.api.deps import DatabaseDep, Ingester, MetricsDep, SettingsDep
from sentiment_service.api.schemas import BatchOut, RawRecords
from sentiment_service.auth.keys import Principal
from sentiment_service.errors import PayloadTooLargeError

router = APIRouter(prefix="/v1", tags=["ingestion"])


class MessageBatch(BaseModel):
    """A batch of messages."""

    messages: RawRecords = Field(
        ...,
        description="Message objects (see MessageRecord); each is stored or rejected on its own.",
    )


class MetricBatch(BaseModel):
    """A batch of metric observations."""

    metrics: RawRecords = Field(..., description="Metric objects; see the MetricRecord schema.")


class OutcomeBatch(BaseModel):
    """A batch of account outcomes."""

    outcomes: RawRecords = Field(..., description="Outcome objects; see the OutcomeRecord schema.")


def _ingest(
    kind: str,
    field: str,
    raws: list[dict[str, Any]],
    *,
    principal: Principal,
    settings: SettingsDep,
    database: DatabaseDep,
    metrics: MetricsDep,
) -> BatchOut:
    if len(raws) > settings.max_batch_size:
        raise PayloadTooLargeError(
            f"{len(raws)} records exceed the batch limit of {settings.max_batch_size}",
            field=field,
        )
    with database.session(write=True) as session:
        ingestor = Ingestor(
            session, IngestPolicy.from_settings(settings), channel="api", actor=principal.actor
        )
        result = getattr(ingestor, field)(raws)  # Ingestor.messages / .metrics / .outcomes
    for status, count in result.counts().items():
        metrics.ingested.labels(kind, status).inc(count)
    return BatchOut.from_result(result)


@router.post("/messages", response_model=BatchOut, summary="Ingest a batch of messages")
def post_messages(
    batch: MessageBatch,
    principal: Ingester,
    settings: SettingsDep,
    database: DatabaseDep,
    metrics: MetricsDep,
) -> BatchOut:
    """Validate, redact, de-duplicate and store messages; invalid ones go to quarantine.

    Idempotent: re-sending a message with the same `source_system` + `external_id` and content
    changes nothing; the same text again for the same account is reported as a duplicate.
    """
    return _ingest(
        "message",
        "messages",
        batch.messages,
        principal=principal,
        settings=settings,
        database=database,
        metrics=metrics,
    )


@router.post("/metrics", response_model=BatchOut, summary="Ingest a batch of metric values")
def post_metrics(
    batch: MetricBatch,
    principal: Ingester,
    settings: SettingsDep,
    database: DatabaseDep,
    metrics: MetricsDep,
) -> BatchOut:
    """Store quantitative metrics; idempotent on account + name + observed_at + source."""
    return _ingest(
        "metric",
        "metrics",
        batch.metrics,
        principal=principal,
        settings=settings,
        database=database,
        metrics=metrics,
    )


@router.post("/outcomes", response_model=BatchOut, summary="Ingest churn/renewal outcomes")
def post_outcomes(
    batch: OutcomeBatch,
    principal: Ingester,
    settings: SettingsDep,
    database: DatabaseDep,
    metrics: MetricsDep,
) -> BatchOut:
    """Store account outcomes (churned, renewed, expanded, downgraded) for backtests."""
    return _ingest(
        "outcome",
        "outcomes",
        batch.outcomes,
        principal=principal,
        settings=settings,
        database=database,
        metrics=metrics,
    )
