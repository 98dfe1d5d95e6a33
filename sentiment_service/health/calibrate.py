"""Calibrating a scorecard on its backtest: proposed band thresholds and outcome probabilities.

`calibrate_bands` backtests the scorecard version in force, proposes the threshold of the
flagged band (`calibration.propose_threshold`) for a precision or recall target, and stores
the proposal as a **draft** scorecard version whose reason carries the backtest evidence. A
draft is never in force: a person publishes it (`PUT /v1/scorecards/{id}`) or not.

It also fits the outcome probability on the same backtest (`calibration.fit_probability`) and,
when there are enough outcomes, publishes it as a `score_calibration` configuration version
for that scorecard version: the health views then show "churn probability x % (n accounts)"
next to the score. A fit belongs to one scorecard version; after a new version is published
the probability disappears until the calibration is run again.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from sentiment_service import config_store
from sentiment_service.errors import InvalidInputError, NotFoundError
from sentiment_service.health.calibration import (
    MIN_OUTCOMES,
    MIN_PER_CLASS,
    ProbabilityFit,
    ThresholdProposal,
    fit_probability,
    flag_stats,
    propose_threshold,
)
from sentiment_service.health.scorecard import Band, Scorecard
from sentiment_service.health.service import (
    backtest_scorecard,
    get_scorecard,
    save_scorecard,
)
from sentiment_service.storage.tables import ConfigVersion

CALIBRATION_KIND = "score_calibration"
DEFAULT_TARGET_PRECISION = 0.6


@dataclass(frozen=True)
class BandCalibration:
    """What `calibrate_bands` found and stored."""

    scorecard: str
    version: int
    horizon_days: int
    n: int
    positives: int
    flag_band: str
    target: dict[str, float]
    current_threshold: float
    current: dict[str, float | int]
    proposal: ThresholdProposal | None
    draft_version: int | None
    probability: ProbabilityFit | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


def calibrate_bands(
    session: Session,
    card_id: str,
    *,
    author: str,
    horizon_days: int = 30,
    target_precision: float | None = None,
    target_recall: float | None = None,
) -> BandCalibration:
    """Backtest the version in force, store a draft with the proposed flag threshold and
    publish the probability fit (see the module docstring)."""
    if target_precision is None and target_recall is None:
        target_precision = DEFAULT_TARGET_PRECISION
    if target_precision is not None and target_recall is not None:
        raise InvalidInputError(
            "give a precision target or a recall target, not both", field="target_recall"
        )
    versioned = get_scorecard(session, card_id)
    if versioned is None:
        raise NotFoundError(f"no scorecard {card_id!r}")
    backtest = backtest_scorecard(session, versioned, horizon_days=horizon_days)
    rows = [
        (item.score, item.outcome == versioned.positive_outcome)
        for item in backtest.items
        if item.score is not None
    ]
    lower = versioned.lower_is_riskier
    flag_band, current_threshold = _flag_threshold(versioned.card.bands, lower)
    flagged, precision, recall = flag_stats(rows, current_threshold, lower_is_riskier=lower)
    proposal = propose_threshold(
        rows,
        lower_is_riskier=lower,
        target_precision=target_precision,
        target_recall=target_recall,
    )
    target = (
        {"precision": target_precision}
        if target_precision is not None
        else {"recall": float(target_recall or 0.0)}
    )
    positives = sum(1 for _, positive in rows if positive)
    draft_version: int | None = None
    if proposal is None:
        note = _why_not(len(rows), positives, target)
    else:
        card = _with_threshold(versioned.card, proposal.threshold, lower)
        if card == versioned.card:
            note = "the thresholds in force already meet the target best; no draft stored"
        else:
            reason = (
                f"calibrate-bands ({horizon_days}-day backtest of version {versioned.version}, "
                f"{len(rows)} accounts, {positives} {versioned.positive_outcome}): {flag_band} "
                f"threshold {current_threshold:g} -> {proposal.threshold:g}; precision "
                f"{precision:.2f} -> {proposal.precision:.2f}, recall {recall:.2f} -> "
                f"{proposal.recall:.2f}, target {target}"
            )
            draft = save_scorecard(session, card, author=author, reason=reason, draft=True)
            draft_version = draft.version
            note = "draft stored; publish it to put the thresholds in force"
    probability = fit_probability(rows)
    if probability is not None:
        config_store.save_version(
            session,
            kind=CALIBRATION_KIND,
            key=card_id,
            body={
                "scorecard_version": versioned.version,
                "horizon_days": horizon_days,
                "outcome": versioned.positive_outcome,
                "intercept": probability.intercept,
                "slope": probability.slope,
                "n": probability.n,
                "positives": probability.positives,
                "fitted_at": datetime.now(UTC).isoformat(),
            },
            author=author,
            reason=f"probability fit on a {horizon_days}-day backtest of version "
            f"{versioned.version}",
            status=config_store.PUBLISHED,
        )
    return BandCalibration(
        scorecard=card_id,
        version=versioned.version,
        horizon_days=horizon_days,
        n=len(rows),
        positives=positives,
        flag_band=flag_band,
        target=target,
        current_threshold=current_threshold,
        current={"flagged": flagged, "precision": precision, "recall": recall},
        proposal=proposal,
        draft_version=draft_version,
        probability=probability,
        note=note,
    )


def outcome_probability(
    session: Session, card_id: str, version: int | None, score: float | None
) -> dict[str, Any] | None:
    """The calibrated probability of the scorecard's outcome at `score`, with its sample size,
    when a fit exists for this very scorecard version."""
    if score is None or version is None:
        return None
    return probability_of(config_store.latest(session, CALIBRATION_KIND, card_id), version, score)


def calibrations(session: Session, card_ids: Sequence[str]) -> dict[str, ConfigVersion]:
    """The calibration in force for each of the scorecards (those that have one), in one
    statement."""
    return config_store.latest_of_keys(session, CALIBRATION_KIND, card_ids)


def probability_of(
    stored: ConfigVersion | None, version: int | None, score: float | None
) -> dict[str, Any] | None:
    """`outcome_probability` from a stored calibration (None: there is none)."""
    if score is None or version is None:
        return None
    if stored is None or stored.body.get("scorecard_version") != version:
        return None
    body = stored.body
    fit = ProbabilityFit(body["intercept"], body["slope"], body["n"], body["positives"])
    return {
        "outcome": body["outcome"],
        "probability": round(fit.probability(score), 3),
        "horizon_days": body["horizon_days"],
        "n": body["n"],
        "positives": body["positives"],
        "fitted_at": body["fitted_at"],
    }


def _flag_threshold(bands: tuple[Band, ...], lower_is_riskier: bool) -> tuple[str, float]:
    """The flagged band and the score that separates it from its neighbour."""
    if lower_is_riskier:
        return bands[-1].name, bands[-2].min_score if len(bands) > 1 else 0.0
    return bands[0].name, bands[0].min_score


def _with_threshold(card: Scorecard, threshold: float, lower_is_riskier: bool) -> Scorecard:
    """The card with the flag threshold moved; other band starts move only as far as needed
    to keep them strictly descending."""
    starts = [band.min_score for band in card.bands]
    if len(starts) < 2:
        raise InvalidInputError("a scorecard needs two bands to flag accounts", field="bands")
    index = len(starts) - 2 if lower_is_riskier else 0
    starts[index] = min(max(threshold, 0.1), 100.0)
    for i in range(index - 1, -1, -1):  # bands above the moved one stay above it
        starts[i] = max(starts[i], min(starts[i + 1] + 1.0, 100.0))
    for i in range(index + 1, len(starts) - 1):  # bands below stay below it
        starts[i] = min(starts[i], starts[i - 1] - 1.0)
    if any(not b < a for a, b in itertools.pairwise(starts)) or starts[-1] != 0:
        raise InvalidInputError(
            f"a threshold of {threshold:g} leaves no room for the other bands", field="bands"
        )
    bands = tuple(
        band.model_copy(update={"min_score": start})
        for band, start in zip(card.bands, starts, strict=True)
    )
    return card.model_copy(update={"bands": bands})


def _why_not(n: int, positives: int, target: dict[str, float]) -> str:
    if n < MIN_OUTCOMES or min(positives, n - positives) < MIN_PER_CLASS:
        return (
            f"not enough outcomes to calibrate: {n} scored accounts with {positives} positive; "
            f"needs {MIN_OUTCOMES} with at least {MIN_PER_CLASS} of each outcome"
        )
    return f"no threshold meets the target {target} on this backtest"
