"""Ad-hoc sentiment scoring (nothing stored) and the list of loaded models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from models.message_sentiment import MAX_SCORED_CHARS, MessageSentiment
from sentiment_service.api.deps import DatabaseDep, ModelsDep, Reader, SettingsDep
from sentiment_service.errors import InvalidInputError, PayloadTooLargeError
from sentiment_service.evaluations import evaluation_history

router = APIRouter(prefix="/v1", tags=["sentiment"])
Label = Annotated[str, StringConstraints(pattern="^(negative|neutral|positive)$")]


class SentimentRequest(BaseModel):
    """Texts to score."""

    texts: list[str] = Field(..., min_length=1, description="Messages to score (not stored).")
    explain: bool = Field(True, description="Include per-sentence scores.")


class SentenceOut(BaseModel):
    """A sentence's scores; offsets refer to `cleaned_text`."""

    text: str
    start: int
    end: int
    label: Label
    probabilities: dict[str, float]
    score: float


class SentimentOut(BaseModel):
    """One message's sentiment."""

    label: Label
    probabilities: dict[str, float]
    score: float = Field(description="p(positive) - p(negative), in [-1, 1]")
    aggregation: str = Field(description="whole_text, single_sentence or sentence_weighted")
    cleaned_text: str
    removed: list[str] = Field(
        description="Parts stripped: quoted_reply, signature, greeting; truncated: only the "
        f"first {MAX_SCORED_CHARS:,} characters were scored"
    )
    sentences: list[SentenceOut] | None = None


class SentimentResponse(BaseModel):
    """Results in request order."""

    model_version: str
    results: list[SentimentOut]


class EvaluationHistoryOut(BaseModel):
    """One stored evaluation run of a model version (details: GET /v1/evaluations/{id})."""

    id: int
    model_version: str
    dataset_name: str
    n: int
    accuracy: float
    macro_f1: float
    created_at: datetime


class ModelOut(BaseModel):
    """A loaded model."""

    name: str
    kind: str
    version: str
    checksums: dict[str, str]
    metrics: dict[str, object]
    default: bool
    data_licence: str | None = Field(
        None, description="Licence of the training data (limits the model's use); null: unknown."
    )
    languages: list[str] = Field(
        default_factory=list,
        description="Languages a sentiment model scores (ISO 639-1); messages route by language.",
    )
    evaluations: list[EvaluationHistoryOut] = Field(
        default_factory=list,
        description="Its newest stored evaluation runs, every version, newest first.",
    )


def _out(result: MessageSentiment, explain: bool) -> SentimentOut:
    return SentimentOut(
        label=result.label,
        probabilities=result.probabilities,
        score=result.score,
        aggregation=result.aggregation,
        cleaned_text=result.cleaned_text,
        removed=result.removed,
        sentences=[SentenceOut(**vars(s)) for s in result.sentences] if explain else None,
    )


@router.post("/sentiment", response_model=SentimentResponse, summary="Score texts (not stored)")
def post_sentiment(
    body: SentimentRequest, _: Reader, settings: SettingsDep, models: ModelsDep
) -> SentimentResponse:
    """Sentiment of each text: label, calibrated probabilities, score and sentence scores."""
    if len(body.texts) > settings.max_sentiment_texts:
        raise PayloadTooLargeError(
            f"{len(body.texts)} texts exceed the limit of {settings.max_sentiment_texts}",
            field="texts",
        )
    for index, text in enumerate(body.texts):
        if not text.strip():
            raise InvalidInputError("text is empty", field=f"texts[{index}]")
        if len(text) > settings.max_text_chars:
            raise InvalidInputError(
                f"text is longer than {settings.max_text_chars} characters",
                field=f"texts[{index}]",
            )
    scorer = models.scorer()
    results = scorer.score(body.texts)
    return SentimentResponse(
        model_version=scorer.version, results=[_out(r, body.explain) for r in results]
    )


@router.get("/models", response_model=list[ModelOut], summary="Loaded models")
def get_models(_: Reader, models: ModelsDep, database: DatabaseDep) -> list[ModelOut]:
    """Models with versions, file checksums, the metrics from their model cards, the licence
    of their training data and their evaluation history (stored runs, newest first)."""
    infos = models.describe()
    with database.session() as session:
        history = {info.name: evaluation_history(session, info.name) for info in infos}
    return [
        ModelOut(
            **vars(info),
            evaluations=[
                EvaluationHistoryOut(
                    id=run.id or 0,
                    model_version=run.model_version,
                    dataset_name=run.dataset_name,
                    n=run.n,
                    accuracy=float(run.summary.get("accuracy", 0.0)),
                    macro_f1=float(run.summary.get("macro_f1", 0.0)),
                    created_at=run.created_at,
                )
                for run in history[info.name]
            ],
        )
        for info in infos
    ]
