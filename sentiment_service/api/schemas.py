"""Request and response bodies shared by several routes."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

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
    """What happened to each record of a batch: `accepted` and `flagged` records were stored
    as new messages (flagged ones are canned repeats, listed but not scored or counted),
    `updated` changed a stored record, `duplicates` were the same record again, `rejected`
    ones are in the quarantine. The counts add up to the records sent."""

    accepted: list[ItemOut]
    flagged: list[ItemOut] = Field(default_factory=list)
    updated: list[ItemOut]
    duplicates: list[ItemOut]
    rejected: list[ItemOut]
    counts: dict[str, int]

    @classmethod
    def from_result(cls, result: BatchResult) -> BatchOut:
        """Group a batch result by status."""
        groups: dict[str, list[ItemOut]] = {
            "accepted": [],
            "flagged": [],
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
            flagged=groups["flagged"],
            updated=groups["updated"],
            duplicates=groups["duplicate"],
            rejected=groups["rejected"],
            counts=result.counts(),
        )


class FieldProblem(BaseModel):
    """One culprit input of a problem: where it is and what is wrong with it."""

    field: str = Field(description="Dotted path of the input, e.g. `messages[0].created_at`.")
    message: str
    type: str | None = Field(None, description="Machine-readable error type, when known.")


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: str = Field("about:blank", description="A URI naming the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = Field(None, description="Also sent as the `X-Request-ID` header.")
    errors: list[FieldProblem] | None = Field(None, description="Per-field errors, if any.")


class Page(BaseModel, Generic[T]):
    """A page of results; pass `next_cursor` as `cursor` to get the next one."""

    items: list[T]
    next_cursor: str | None = None


RawRecords = list[dict[str, Any]]
