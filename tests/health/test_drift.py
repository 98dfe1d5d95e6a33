"""Population stability, label drift and dark data sources."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment_service.health.drift import (
    dark_sources,
    drift_status,
    label_drift,
    population_stability_index,
)
from tests.health.builders import AS_OF

samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=80)


@given(samples, samples, st.integers(2, 12))
def test_psi_is_never_negative(reference: list[float], current: list[float], bins: int) -> None:
    assert population_stability_index(reference, current, n_bins=bins) >= 0


@given(samples)
def test_psi_of_identical_samples_is_zero(sample: list[float]) -> None:
    assert population_stability_index(sample, list(sample)) == pytest.approx(0, abs=1e-12)


def test_psi_grows_with_shift() -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(0, 1, 5000).tolist()
    same = rng.normal(0, 1, 5000).tolist()
    shifted = rng.normal(0.3, 1, 5000).tolist()
    far = rng.normal(1.5, 1, 5000).tolist()
    psis = [population_stability_index(reference, s) for s in (same, shifted, far)]
    assert psis[0] < psis[1] < psis[2]
    assert [drift_status(p) for p in psis] == ["ok", "watch", "drift"]
    assert [drift_status(p) for p in (0.0999, 0.1, 0.2499, 0.25)] == [
        "ok",
        "watch",
        "watch",
        "drift",
    ]


def test_label_drift() -> None:
    steady = label_drift(
        {"negative": 20, "neutral": 50, "positive": 30},
        {"negative": 40, "neutral": 100, "positive": 60},
    )
    assert steady.psi == pytest.approx(0) and steady.status == "ok"
    souring = label_drift(
        {"negative": 20, "neutral": 50, "positive": 30}, {"negative": 60, "neutral": 30}
    )
    assert souring.status == "drift"
    assert souring.current_shares["positive"] > 0  # smoothed, never zero
    assert sum(souring.current_shares.values()) == pytest.approx(1)
    with pytest.raises(ValueError, match="unknown labels"):
        label_drift({"angry": 1}, {"negative": 1})


def test_dark_sources() -> None:
    last_seen = {
        "ticket": AS_OF - timedelta(days=2),
        "chat": AS_OF - timedelta(days=20),  # usual gap 2 days -> threshold 14 (min_days)
        "survey": AS_OF - timedelta(days=80),  # usual gap 30 -> threshold 90
        "csm_note": AS_OF - timedelta(days=50),  # usual gap 10 -> threshold 30
        "social": None,
    }
    gaps = {"ticket": 1, "chat": 2, "survey": 30, "csm_note": 10}
    dark = dark_sources(
        last_seen,
        ["ticket", "chat", "survey", "csm_note", "social", "crm"],
        as_of=AS_OF,
        usual_gap_days=gaps,
    )
    assert [d.source for d in dark] == ["chat", "crm", "csm_note", "social"]
    by_source = {d.source: d for d in dark}
    chat = by_source["chat"]
    assert chat.threshold_days == 14 and chat.days_silent == pytest.approx(20)
    assert by_source["csm_note"].threshold_days == 30
    assert by_source["social"].days_silent is None
    stricter = dark_sources(last_seen, ["survey"], as_of=AS_OF, usual_gap_days=gaps, factor=2)
    assert [(d.source, d.threshold_days) for d in stricter] == [("survey", 60)]
    lenient = dark_sources(last_seen, ["chat"], as_of=AS_OF, usual_gap_days=gaps, min_days=21)
    assert lenient == []
