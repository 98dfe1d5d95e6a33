"""Model promotion: compare a candidate with the default on the stored labelled sets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from sentiment_service.api.deps import Admin, DatabaseDep, Evaluator, ModelsDep
from sentiment_service.audit import record_change
from sentiment_service.promotion import DEFAULT_TOLERANCE, evaluate_candidate
from sentiment_service.promotion import list_promotions as stored_promotions
from sentiment_service.storage.tables import ModelPromotion

router = APIRouter(prefix="/v1/models/promotions", tags=["evaluation"])


class PromotionIn(BaseModel):
    """A candidate model artifact folder on the server."""

    artifact_dir: str = Field(min_length=1, max_length=1024)
    tolerance: float = Field(DEFAULT_TOLERANCE, ge=0, le=0.2)


class PromotionOut(BaseModel):
    """The comparison and the decision."""

    id: int
    current_version: str | None
    candidate_version: str
    promoted: bool
    comparison: dict[str, Any]
    decided_at: datetime
    decided_by: str


def _out(row: ModelPromotion) -> PromotionOut:
    return PromotionOut(
        id=row.id or 0,
        current_version=row.current_version,
        candidate_version=row.candidate_version,
        promoted=row.promoted,
        comparison=row.comparison,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


@router.post(
    "",
    response_model=PromotionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Evaluate a candidate and promote it if it is not worse",
)
def post_promotion(
    body: PromotionIn, principal: Admin, database: DatabaseDep, models: ModelsDep
) -> PromotionOut:
    """Side-by-side evaluation on every stored labelled set (per class and per source); the
    candidate becomes the default only if no check is worse than the tolerance."""
    promotion, candidate = evaluate_candidate(
        database,
        models.scorer(),
        Path(body.artifact_dir),
        tolerance=body.tolerance,
        actor=principal.actor,
    )
    if promotion.promoted:
        models.swap(candidate)
    with database.session() as session:
        record_change(
            session,
            actor=principal.actor,
            action="model.promote" if promotion.promoted else "model.promotion_refused",
            entity_type="model",
            entity_id=promotion.candidate_version,
            before={"version": promotion.current_version},
            after={"version": promotion.candidate_version, "promoted": promotion.promoted},
        )
    return _out(promotion)


@router.get("", response_model=list[PromotionOut], summary="Past promotion decisions")
def list_promotions(_: Evaluator, database: DatabaseDep) -> list[PromotionOut]:
    """Newest first, with the stored comparison."""
    with database.session() as session:
        return [_out(row) for row in stored_promotions(session)]
