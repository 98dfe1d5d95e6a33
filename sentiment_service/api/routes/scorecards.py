"""Scorecards: versioned config, plain-words criteria, previews, backtests, weights, drift."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from pipelines.dates import Day
from pipelines.snapshots import end_of_day
from sentiment_service import config_store
from sentiment_service.api.deps import Admin, DatabaseDep, Evaluator, Reader
from sentiment_service.errors import InvalidInputError, NotFoundError
from sentiment_service.health import service
from sentiment_service.health.backtest import backtest_chart_png, compare_backtests
from sentiment_service.health.calibrate import calibrate_bands
from sentiment_service.health.criteria import CriteriaOut, scorecard_criteria
from sentiment_service.health.drift import LabelDrift
from sentiment_service.health.scorecard import Scorecard, scorecard_to_dict
from sentiment_service.text_rules import StripNul

router = APIRouter(prefix="/v1/scorecards", tags=["scorecards"])
CardId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Scorecard id")]


class ScorecardOut(BaseModel):
    """A scorecard version."""

    id: str
    version: int
    status: str
    scorecard: dict[str, Any]


class VersionOut(BaseModel):
    """One entry of a scorecard's change log."""

    version: int
    status: str
    author: str
    reason: str
    created_at: str
    diff: list[dict[str, Any]] | None


class ScorecardIn(BaseModel):
    """A new version of a scorecard, with the reason for the change."""

    scorecard: Scorecard
    reason: Annotated[str, StripNul] = Field(min_length=3, max_length=2000)


class PreviewIn(BaseModel):
    """A proposed scorecard to compare with the version in force."""

    scorecard: Scorecard
    day: Day | None = None


def _get(
    database: DatabaseDep, card_id: str, version: int | None = None
) -> service.VersionedScorecard:
    with database.session() as session:
        found = service.get_scorecard(session, card_id, version)
    if found is None:
        detail = f"scorecard {card_id!r}" + (
            f" has no version {version}" if version else " does not exist"
        )
        raise NotFoundError(detail, field="version" if version else "card_id")
    return found


@router.get("", response_model=list[ScorecardOut], summary="Scorecards in force")
def list_scorecards(_: Reader, database: DatabaseDep) -> list[ScorecardOut]:
    """Every scorecard's published version (one per objective)."""
    with database.session() as session:
        cards = service.active_scorecards(session)
    return [
        ScorecardOut(
            id=c.card.id, version=c.version, status="published", scorecard=scorecard_to_dict(c.card)
        )
        for c in cards
    ]


@router.get("/{card_id}", response_model=ScorecardOut, summary="One scorecard version")
def get_scorecard(
    card_id: CardId,
    _: Reader,
    database: DatabaseDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> ScorecardOut:
    """The version in force, or any stored version (drafts included)."""
    found = _get(database, card_id, version)
    with database.session() as session:
        stored = config_store.get_version(session, service.SCORECARD_KIND, card_id, found.version)
    return ScorecardOut(
        id=card_id,
        version=found.version,
        status=stored.status if stored else "published",
        scorecard=scorecard_to_dict(found.card),
    )


@router.put("/{card_id}", response_model=ScorecardOut, summary="Publish a new version")
def put_scorecard(
    card_id: CardId, body: ScorecardIn, principal: Admin, database: DatabaseDep
) -> ScorecardOut:
    """Store a new immutable version (with author, reason and diff); it is in force at once.
    Scores already stored keep the version that produced them."""
    if body.scorecard.id != card_id:
        raise InvalidInputError(
            f"scorecard.id {body.scorecard.id!r} differs from the path {card_id!r}",
            field="scorecard.id",
        )
    with database.session() as session:
        saved = service.save_scorecard(
            session, body.scorecard, author=principal.actor, reason=body.reason
        )
    return ScorecardOut(
        id=card_id,
        version=saved.version,
        status="published",
        scorecard=scorecard_to_dict(saved.card),
    )


@router.get("/{card_id}/versions", response_model=list[VersionOut], summary="Change log")
def list_versions(card_id: CardId, _: Reader, database: DatabaseDep) -> list[VersionOut]:
    """Every version, newest first, with author, reason and the diff against its predecessor."""
    _get(database, card_id)
    with database.session() as session:
        rows = config_store.history(session, service.SCORECARD_KIND, card_id)
        return [
            VersionOut(
                version=r.version,
                status=r.status,
                author=r.author,
                reason=r.reason,
                created_at=r.created_at.isoformat(),
                diff=r.diff,
            )
            for r in rows
        ]


CRITERIA_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{border:1px solid #ccc;padding:.4rem;vertical-align:top}"
    "th{background:#f3f3f3;text-align:left}"
)


def _criteria_page(criteria: CriteriaOut) -> str:
    """The criteria as a standalone HTML page."""
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(getattr(item, k)))}</td>"
            for k in ("label", "description", "transform", "weight_share", "freshness_days")
        )
        + "</tr>"
        for item in criteria.components
    )
    band_text = ", ".join(f"{html.escape(b.name)} ≥ {b.min_score:g}" for b in criteria.bands)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(criteria.name)} criteria</title>"
        f"<style>{CRITERIA_CSS}</style></head><body>"
        f"<h1>{html.escape(criteria.name)} <small>v{criteria.version}</small></h1>"
        f"<p>{html.escape(criteria.description)}</p><p><strong>Bands:</strong> {band_text}</p>"
        "<table><thead><tr><th>Component</th><th>What it measures</th><th>How it scores</th>"
        f"<th>Weight share</th><th>Fresh for (days)</th></tr></thead><tbody>{rows}</tbody></table>"
        "<p>Missing or stale components are left out (never counted as zero) and lower the "
        "score's confidence.</p></body></html>"
    )


@router.get(
    "/{card_id}/criteria",
    summary="Each component in plain words (JSON or HTML)",
    response_model=CriteriaOut,
    responses={
        200: {
            "description": "JSON, or with `format=html` a page",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
def criteria(
    card_id: CardId,
    _: Reader,
    database: DatabaseDep,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> CriteriaOut | HTMLResponse:
    """What each component measures, how it becomes points, its weight and freshness window."""
    found = _get(database, card_id)
    out = scorecard_criteria(found.card, found.version)
    if format == "json":
        return out
    return HTMLResponse(_criteria_page(out))


class PreviewChangeOut(BaseModel):
    """One account's score under the version in force and under the proposed one."""

    account_id: str
    old_score: float | None
    old_band: str | None
    new_score: float | None
    new_band: str
    change: float | None
    band_changed: bool


class PreviewOut(BaseModel):
    """What the proposed scorecard would change, largest score change first."""

    day: date
    accounts: int
    band_changes: int
    changes: list[PreviewChangeOut]


@router.post(
    "/{card_id}/preview",
    response_model=PreviewOut,
    summary="What a proposed version would change",
)
def preview(card_id: CardId, body: PreviewIn, _: Evaluator, database: DatabaseDep) -> PreviewOut:
    """Scores under the proposed scorecard next to the version in force, per account."""
    if body.scorecard.id != card_id:
        raise InvalidInputError("scorecard.id must match the path", field="scorecard.id")
    _get(database, card_id)
    with database.session() as session:
        day = body.day or service.data_end(session) or date.today()
        changes = service.preview_scorecard(session, body.scorecard, day)
    return PreviewOut(
        day=day,
        accounts=len(changes),
        band_changes=sum(c["band_changed"] for c in changes),
        changes=[PreviewChangeOut(**c) for c in changes],
    )


def _backtests(
    database: DatabaseDep,
    card_id: str,
    version: int | None,
    compare: int | None,
    horizon: int,
    without_sentiment: bool,
) -> dict[str, service.ScorecardBacktest]:
    variants = {}
    main = _get(database, card_id, version)
    variants[f"{card_id}@{main.version}"] = main
    if compare is not None:
        other = _get(database, card_id, compare)
        variants[f"{card_id}@{other.version}"] = other
    if without_sentiment:
        stripped = service.without_kinds(main.card, {"sentiment", "topic"}, "without_sentiment")
        variants[stripped.id] = service.VersionedScorecard(stripped, main.version)
    with database.session() as session:
        return {
            name: service.backtest_scorecard(session, item, horizon_days=horizon, basis="event")
            for name, item in variants.items()
        }


class BacktestItemOut(BaseModel):
    """One account of a backtest: when it was scored and what happened."""

    account_id: str
    as_of: date
    outcome: str
    occurred_on: date
    score: float | None
    band: str
    effective_score: float | None = Field(description="With overrides in force then")
    effective_band: str


class BacktestRunOut(BaseModel):
    """One scorecard version's backtest."""

    result: dict[str, Any] = Field(description="AUC, precision/recall, lift, calibration")
    overrides: dict[str, Any] = Field(description="Did people beat the model?")
    items: list[BacktestItemOut]


class BacktestOut(BaseModel):
    """Backtests per variant (`{card}@{version}`, `{card}_without_sentiment`); `comparison`
    only when there are two."""

    backtests: dict[str, BacktestRunOut]
    comparison: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The second variant against the first (absent with one variant)",
    )


def _backtest_run(bt: service.ScorecardBacktest) -> BacktestRunOut:
    return BacktestRunOut(
        result=bt.result.model_dump(mode="json", exclude={"roc"}),
        overrides=bt.overrides.model_dump(mode="json", exclude={"computed", "effective"}),
        items=[
            BacktestItemOut(
                account_id=i.account_id,
                as_of=i.as_of,
                outcome=i.outcome,
                occurred_on=i.occurred_on,
                score=i.score,
                band=i.band,
                effective_score=i.effective_score,
                effective_band=i.effective_band,
            )
            for i in bt.items
        ],
    )


@router.get(
    "/{card_id}/backtest",
    response_model=BacktestOut,
    response_model_exclude_unset=True,
    summary="Backtest against outcomes",
)
def backtest(
    card_id: CardId,
    _: Evaluator,
    database: DatabaseDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    compare: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    horizon_days: Annotated[int, Query(ge=0, le=730)] = 30,
    without_sentiment: bool = False,
) -> BacktestOut:
    """AUC, precision/recall and lift of the flagged band, calibration, and the override check
    ("did people beat the model?"), per version; with `compare` or `without_sentiment`, the
    difference too. Accounts are scored `horizon_days` before their outcome."""
    results = _backtests(database, card_id, version, compare, horizon_days, without_sentiment)
    out = BacktestOut(backtests={name: _backtest_run(bt) for name, bt in results.items()})
    names = list(results)
    if len(names) > 1:
        out.comparison = [
            d.model_dump(mode="json")
            for d in compare_backtests(results[names[0]].result, results[names[1]].result)
        ]
    return out


@router.get(
    "/{card_id}/backtest.png",
    summary="Backtest chart (ROC and calibration)",
    response_class=Response,
    responses={
        200: {
            "description": "A PNG image",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def backtest_chart(
    card_id: CardId,
    _: Evaluator,
    database: DatabaseDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    compare: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    horizon_days: Annotated[int, Query(ge=0, le=730)] = 30,
    without_sentiment: bool = False,
) -> Response:
    """The ROC curves and outcome rate per score bucket as a PNG."""
    results = _backtests(database, card_id, version, compare, horizon_days, without_sentiment)
    png = backtest_chart_png(
        {name: bt.result for name, bt in results.items()}, title=f"{card_id} backtest"
    )
    return Response(png, media_type="image/png")


class SuggestedWeightsOut(BaseModel):
    """The draft version with fitted weights, and its backtest beside the current one."""

    draft_version: int
    weights: dict[str, float] = Field(description="The draft's weight per component")
    diagnostics: dict[str, Any]
    current: dict[str, Any] = Field(description="Backtest of the version in force")
    draft: dict[str, Any] = Field(description="Backtest of the draft")


@router.post(
    "/{card_id}/suggest-weights",
    response_model=SuggestedWeightsOut,
    summary="Fit weights on outcomes (stored as a draft)",
)
def post_suggest_weights(
    card_id: CardId,
    principal: Evaluator,
    database: DatabaseDep,
    horizon_days: Annotated[int, Query(ge=0, le=730)] = 30,
) -> SuggestedWeightsOut:
    """A regularised logistic fit of outcomes on component points gives a draft version with
    its backtest next to the current one. The draft is never published automatically."""
    current = _get(database, card_id)
    with database.session() as session:
        try:
            before, suggestion = service.suggest_scorecard_weights(
                session, current, horizon_days=horizon_days, basis="event"
            )
        except ValueError as error:
            raise InvalidInputError(str(error), field="outcomes") from None
        draft = service.save_scorecard(
            session,
            suggestion.draft,
            author=principal.actor,
            reason="suggested weights (draft)",
            draft=True,
        )
        after = service.backtest_scorecard(session, draft, horizon_days=horizon_days, basis="event")
    return SuggestedWeightsOut(
        draft_version=draft.version,
        weights={c.name: c.weight for c in suggestion.draft.components},
        diagnostics=suggestion.diagnostics.model_dump(mode="json"),
        current=before.result.model_dump(mode="json", exclude={"roc"}),
        draft=after.result.model_dump(mode="json", exclude={"roc"}),
    )


class ThresholdProposalOut(BaseModel):
    """A proposed flag threshold and how the flagged band fared with it on the backtest."""

    threshold: float
    flagged: int
    precision: float
    recall: float
    n: int
    positives: int


class ProbabilityFitOut(BaseModel):
    """P(outcome) = 1 / (1 + exp(-(intercept + slope * score))), fitted on `n` accounts."""

    intercept: float
    slope: float
    n: int
    positives: int


class BandCalibrationOut(BaseModel):
    """The backtest evidence, the proposal (stored as a draft version) and the probability
    fit (shown next to scores of this scorecard version)."""

    scorecard: str
    version: int
    horizon_days: int
    n: int
    positives: int
    flag_band: str
    target: dict[str, float]
    current_threshold: float
    current: dict[str, float]
    proposal: ThresholdProposalOut | None
    draft_version: int | None
    probability: ProbabilityFitOut | None
    note: str


class CalibrateBandsIn(BaseModel):
    """A precision target or a recall target for the flagged band (default precision 0.6)."""

    horizon_days: int = Field(30, ge=0, le=730)
    target_precision: float | None = Field(None, gt=0, le=1)
    target_recall: float | None = Field(None, gt=0, le=1)


@router.post(
    "/{card_id}/calibrate-bands",
    response_model=BandCalibrationOut,
    summary="Propose band thresholds from the backtest (stored as a draft)",
)
def post_calibrate_bands(
    card_id: CardId, body: CalibrateBandsIn, principal: Evaluator, database: DatabaseDep
) -> BandCalibrationOut:
    """Backtests the version in force, proposes the flagged band's threshold for the target
    and stores it as a draft version with the evidence in its reason (never published
    automatically). With enough outcomes it also fits the outcome probability that the health
    views show next to scores, with its sample size."""
    _get(database, card_id)
    with database.session(write=True) as session:
        result = calibrate_bands(
            session,
            card_id,
            author=principal.actor,
            horizon_days=body.horizon_days,
            target_precision=body.target_precision,
            target_recall=body.target_recall,
        )
    return BandCalibrationOut.model_validate(result.as_dict())


class ComponentDriftOut(BaseModel):
    """PSI of one component's points (or of the score) between the two days."""

    name: str
    psi: float
    status: str
    n_reference: int
    n_current: int


class DriftOut(BaseModel):
    """Component drift between two stored scoring days, and sentiment label drift."""

    day: date
    reference_day: date
    components: list[ComponentDriftOut]
    sentiment_labels: LabelDrift | None = Field(
        description="Label mix of the last 30 days against the 90 before"
    )
    note: str | None


@router.get(
    "/{card_id}/drift",
    response_model=DriftOut,
    summary="Component and sentiment-model drift",
)
def drift(
    card_id: CardId,
    _: Evaluator,
    database: DatabaseDep,
    day: Day | None = None,
    reference_days: Annotated[int, Query(ge=1, le=365)] = 28,
) -> DriftOut:
    """PSI of each component's points (stored scores on `day` vs `reference_days` earlier), and
    of the sentiment model's label mix (last 30 days vs the 90 before)."""
    _get(database, card_id)
    with database.session() as session:
        day = day or service.data_end(session) or date.today()
        reference = day - timedelta(days=reference_days)
        components = service.component_drift(session, card_id, day, reference)
        labels = service.sentiment_label_drift(session, end_of_day(day))
    return DriftOut(
        day=day,
        reference_day=reference,
        components=[ComponentDriftOut(**c) for c in components],
        sentiment_labels=labels,
        note=None
        if components
        else "no stored scores on one of the two days; run `sentiment-service health score`",
    )
