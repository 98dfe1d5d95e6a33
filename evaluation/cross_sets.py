"""Cross-set report of sentiment artifacts: B2B test split per source, airline test, TweetEval
validation and se-github test, scored with the product's message-level path.

    python -m evaluation.cross_sets --data-dir ../shared/data \
        --artifact models/sentiment/artifacts/minilm-sent-2026.12.5 --artifact NEW_DIR

Prints one JSON object: per artifact and set, n, macro-F1, accuracy and calibrated ECE (and
per source for the B2B test split). Sets whose files are missing are left out. Report only:
nothing here may be used to choose a model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from models.backends import LABELS
from models.sentiment import b2b_data
from models.sentiment.metrics import expected_calibration_error


def load_sets(data_dir: Path | None) -> dict[str, tuple[list[str], np.ndarray, list[str]]]:
    """Name -> (texts, label ids, sources) of the reporting sets that exist."""
    sets: dict[str, tuple[list[str], np.ndarray, list[str]]] = {}
    if b2b_data.B2B_DEV.is_file():
        rows = b2b_data.rows_of("test")
        sets["b2b_test"] = (
            [r.text for r in rows],
            np.array([LABELS.index(r.label) for r in rows]),
            [r.source for r in rows],
        )
    files = {
        "airline_test": "airline-tweets/test.csv",
        "tweeteval_val": "tweeteval-sentiment/val.csv",
        "se_github_test": "se-github/test.csv",
    }
    for name, relative in files.items():
        path = data_dir / relative if data_dir is not None else None
        if path is not None and path.is_file():
            frame = pd.read_csv(path, keep_default_na=False)
            texts = [str(t) for t in frame["text"]]
            labels = np.array([LABELS.index(str(v)) for v in frame["label"]])
            sets[name] = (texts, labels, [name] * len(texts))
    return sets


def scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """n, macro-F1, accuracy and top-label ECE (15 bins) of calibrated probabilities."""
    predicted = probabilities.argmax(axis=1)
    return {
        "n": len(labels),
        "macro_f1": float(f1_score(labels, predicted, average="macro", labels=[0, 1, 2])),
        "accuracy": float(accuracy_score(labels, predicted)),
        "ece": expected_calibration_error(probabilities, labels),
    }


def report(artifact: Path, sets: dict[str, tuple[list[str], np.ndarray, list[str]]]) -> dict:
    """Scores of one artifact on every set (B2B per source too)."""
    from models.message_sentiment import MessageSentimentScorer
    from models.minilm import MessageLevelBackend, MiniLMBackend
    from models.sentences import SentenceSplitter

    backend = MessageLevelBackend(
        MessageSentimentScorer(MiniLMBackend(artifact), SentenceSplitter())
    )
    out: dict[str, Any] = {"version": backend.version}
    for name, (texts, labels, sources) in sets.items():
        probabilities = backend.predict_proba(texts)
        out[name] = scores(probabilities, labels)
        if name == "b2b_test":
            src = np.asarray(sources)
            out[name]["per_source"] = {
                s: scores(probabilities[src == s], labels[src == s]) for s in sorted(set(sources))
            }
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the report of each --artifact."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--artifact", type=Path, action="append", required=True)
    p.add_argument("--skip", default="", help="comma-separated set names to leave out")
    args = p.parse_args(argv)
    skip = set(args.skip.split(","))
    sets = {k: v for k, v in load_sets(args.data_dir).items() if k not in skip}
    print(json.dumps({str(a): report(a, sets) for a in args.artifact}, indent=2))


if __name__ == "__main__":
    main()
