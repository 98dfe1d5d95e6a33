"""Quarantine: the records ingestion refused, with the reason."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sentiment_service.api.deps import DatabaseDep, QuarantineReader
from sentiment_service.api.schemas import MAX_ID, Page
from sentiment_service.quarantine import list_quarantined

router = APIRouter(prefix="/v1/quarantine", tags=["ingestion"])


class QuarantineOut(BaseModel):
    """A refused record (PII in the payload is redacted like stored text)."""

    id: int
    kind: str
    channel: str
    source: str | None
    reason_code: str
    reason: str
    field: str | None
    raw_payload: Any
    received_at: datetime


@router.get("", response_model=Page[QuarantineOut], summary="List quarantined records")
def list_quarantine(
    _: QuarantineReader,
    database: DatabaseDep,
    kind: Annotated[str | None, Query(description="message, metric or outcome")] = None,
    reason_code: str | None = None,
    channel: Annotated[str | None, Query(description="api or a connector name")] = None,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="next_cursor of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[QuarantineOut]:
    """Newest first."""
    with database.session() as session:
        rows, more = list_quarantined(
            session,
            kind=kind,
            reason_code=reason_code,
            channel=channel,
            cursor=cursor,
            limit=limit,
        )
    items = [
        QuarantineOut(
            id=row.id or 0,
            kind=row.kind,
            channel=row.channel,
            source=row.source,
            reason_code=row.reason_code,
            reason=row.reason,
            field=row.field_path,
            raw_payload=row.raw_payload,
            received_at=row.received_at,
        )
        for row in rows
    ]
    next_cursor = str(items[-1].id) if more else None
    return Page[QuarantineOut](items=items, next_cursor=next_cursor)
