"""Health scores in storage: scorecard versions, daily scoring, overrides, evidence, backtests.

This module joins the pure scoring maths (scoring.py, backtest.py, ...) with the database:
features come from pipelines.features (or stored feature snapshots), scorecards from the
versioned config store, and results go to `health_scores`.

The work lives in one module per concern; this module re-exports their public names so that
`from sentiment_service.health.service import ...` and `service.<name>` keep working:

- `scorecard_versions`: `VersionedScorecard`, `ensure_default_scorecards`,
  `active_scorecards`, `get_scorecard`, `save_scorecard`, `without_kinds`; `SCORECARD_KIND`,
  `SYSTEM_AUTHOR`;
- `runs`: computing and storing score runs: `attributes_by_account`, `features_at`,
  `score_accounts`, `peer_percentiles`, `score_day`, `ScoringSummary`, `score_range`,
  `data_end`, `ingested_later_share`; `DARK_CONFIDENCE_FACTOR`;
- `stored_overrides`: `to_override`, `active_override`, `effective`;
- `backtests`: `BacktestItem`, `ScorecardBacktest`, `backtest_scorecard`,
  `suggest_scorecard_weights`, `preview_scorecard`;
- `evidence`: the read side behind stored scores: `evidence_for`, `evidence_of_components`,
  `account_dark_sources`, `component_drift`, `sentiment_label_drift`;
  `EVIDENCE_PER_COMPONENT`, `QUOTE_CHARS`.
"""

from __future__ import annotations

from sentiment_service.health.backtests import (
    BacktestItem,
    ScorecardBacktest,
    backtest_scorecard,
    preview_scorecard,
    suggest_scorecard_weights,
)
from sentiment_service.health.evidence import (
    EVIDENCE_PER_COMPONENT,
    QUOTE_CHARS,
    account_dark_sources,
    component_drift,
    evidence_for,
    evidence_of_components,
    sentiment_label_drift,
)
from sentiment_service.health.runs import (
    DARK_CONFIDENCE_FACTOR,
    ScoringSummary,
    attributes_by_account,
    data_end,
    features_at,
    ingested_later_share,
    peer_percentiles,
    score_accounts,
    score_day,
    score_range,
)
from sentiment_service.health.scorecard_versions import (
    SCORECARD_KIND,
    SYSTEM_AUTHOR,
    VersionedScorecard,
    active_scorecards,
    ensure_default_scorecards,
    get_scorecard,
    save_scorecard,
    without_kinds,
)
from sentiment_service.health.stored_overrides import (
    active_override,
    effective,
    to_override,
)

__all__ = [
    "DARK_CONFIDENCE_FACTOR",
    "EVIDENCE_PER_COMPONENT",
    "QUOTE_CHARS",
    "SCORECARD_KIND",
    "SYSTEM_AUTHOR",
    "BacktestItem",
    "ScorecardBacktest",
    "ScoringSummary",
    "VersionedScorecard",
    "account_dark_sources",
    "active_override",
    "active_scorecards",
    "attributes_by_account",
    "backtest_scorecard",
    "component_drift",
    "data_end",
    "effective",
    "ensure_default_scorecards",
    "evidence_for",
    "evidence_of_components",
    "features_at",
    "get_scorecard",
    "ingested_later_share",
    "peer_percentiles",
    "preview_scorecard",
    "save_scorecard",
    "score_accounts",
    "score_day",
    "score_range",
    "sentiment_label_drift",
    "suggest_scorecard_weights",
    "to_override",
    "without_kinds",
]
