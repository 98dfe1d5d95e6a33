"""Multi-label topic evaluation: per-topic precision/recall/F1 with micro and macro averages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evaluation.datasets import read_table, require_column

TOPIC_SEPARATOR = ";"


def parse_topics(value: Any) -> set[str]:
    """The set of topic keys in a ';'-separated cell (blank keys dropped, whitespace trimmed)."""
    if value is None or (isinstance(value, float) and value != value):
        return set()
    if isinstance(value, (list, tuple, set)):
        return {str(item).strip() for item in value if str(item).strip()}
    return {key.strip() for key in str(value).split(TOPIC_SEPARATOR) if key.strip()}


def read_topic_sets(path: Path | str, topic_col: str = "topics") -> list[set[str]]:
    """The topic set of every row of a labelled file."""
    path = Path(path)
    table, _ = read_table(path)
    require_column(table, topic_col, "--topic-col", path)
    return [parse_topics(row.get(topic_col)) for row in table.rows]


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, or 0 when the denominator is 0."""
    return numerator / denominator if denominator else 0.0


def _prf(true_positive: int, false_positive: int, false_negative: int) -> dict[str, float]:
    """Precision, recall and F1 from counts (undefined ratios are 0)."""
    return {
        "precision": _ratio(true_positive, true_positive + false_positive),
        "recall": _ratio(true_positive, true_positive + false_negative),
        "f1": _ratio(2 * true_positive, 2 * true_positive + false_positive + false_negative),
    }


def topic_metrics(
    true: Sequence[set[str]], predicted: Sequence[set[str]], topics: Iterable[str] | None = None
) -> dict[str, Any]:
    """Per-topic P/R/F1/support and micro/macro averages over `topics` (default: all seen)."""
    if len(true) != len(predicted):
        raise ValueError("true and predicted must have one topic set per item")
    keys = sorted(set(topics) if topics is not None else set().union(*true, *predicted))
    counts = {key: [0, 0, 0] for key in keys}  # true positives, false positives, false negatives
    for gold, guess in zip(true, predicted, strict=True):
        for key in keys:
            in_gold, in_guess = key in gold, key in guess
            if in_gold and in_guess:
                counts[key][0] += 1
            elif in_guess:
                counts[key][1] += 1
            elif in_gold:
                counts[key][2] += 1
    per_topic = {
        key: {**_prf(*counts[key]), "support": counts[key][0] + counts[key][2]} for key in keys
    }
    totals = [sum(counts[key][i] for key in keys) for i in range(3)]
    micro = _prf(*totals)
    macro = {
        name: (sum(per_topic[key][name] for key in keys) / len(keys)) if keys else 0.0
        for name in ("precision", "recall", "f1")
    }
    exact = sum(1 for gold, guess in zip(true, predicted, strict=True) if gold == guess)
    return {
        "n": len(true),
        "topics": per_topic,
        "micro": micro,
        "macro": macro,
        "micro_f1": micro["f1"],
        "macro_f1": macro["f1"],
        "exact_match": _ratio(exact, len(true)),
    }
