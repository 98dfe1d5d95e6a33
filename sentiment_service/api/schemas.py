"""Request and response bodies shared by several routes."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from pipelines.ingest import BatchResult

T = TypeVar("T")
MAX_ID = 2**31 - 1  # row ids are 32-bit integers; larger values are refused with a 422


class ItemOut(BaseModel):
    """One item of a batch response; `index` is its position in the request."""

    index: int
    id: int | None = None
    code: str | None = None
    reason: str | None = None
    field: str | None = None
    quarantine_id: int | None = None


class BatchOut(BaseModel):
    """What happened to each record of a batch."""

    accepted: list[ItemOut]
    updated: list[ItemOut]
    duplicates: list[ItemOut]
    rejected: list[ItemOut]
    counts: dict[str, int]

    @classmethod
    def from_result(cls, result: BatchResult) -> BatchOut:
        """Group a batch result by status."""
        groups: dict[str, list[ItemOut]] = {
            "accepted": [],
            "updated": [],
            "duplicate": [],
            "rejected": [],
        }
        for item in result.items:
            groups[item.status].append(
                ItemOut(
                    index=item.index,
                    id=item.id,
                    code=item.code,
                    reason=item.reason,
                    field=item.field,
                    quarantine_id=item.quarantine_id,
                )
            )
        return cls(
            accepted=groups["accepted"],
            updated=groups["updated"],
            duplicates=groups["duplicate"],
            rejected=groups["rejected"],
            counts=result.counts(),
        )


class Page(BaseModel, Generic[T]):
    """A page of results; pass `next_cursor` as `cursor` to get the next one."""

    items: list[T]
    next_cursor: str | None = None


RawRecords = list[dict[str, Any]]
