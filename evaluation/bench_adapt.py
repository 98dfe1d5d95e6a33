"""Adaptation benchmark: adapt on a seeded 600-row sample of a new domain, score before/after.

    python -m evaluation.bench_adapt --data-dir ../shared/data

Adapts the shipped model on 600 rows of `se-github/train.csv` (its own labelling definition)
with airline/TweetEval replay from `--data-dir`, then scores the base and the adapted
artifact with the product's message-level path on: the rest of se-github train (a tuning set,
for choosing the method), se-github test, airline test and the B2B test split (when
models/sentiment/data/b2b_dev.csv exists). Prints one JSON object; the adaptation wall time
is measured around `adapt()` alone. Tune on `se_github_train_rest`, never on the test sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from models.backends import LABELS
from models.sentiment import adapt as A
from models.sentiment import adapt_recipe as R
from models.sentiment import b2b_data
from models.sentiment.inference import default_artifact_dir

TARGETS = {"se_github_gain": 0.18, "airline_loss": 0.015, "b2b_loss": 0.03, "seconds": 600}


def _scorer(artifact: Path):
    from models.message_sentiment import MessageSentimentScorer
    from models.minilm import MiniLMBackend
    from models.sentences import SentenceSplitter

    return MessageSentimentScorer(MiniLMBackend(artifact), SentenceSplitter())


def macro_f1(scorer, texts: list[str], labels: list[str]) -> float:
    """Message-level macro-F1 of a scorer on labelled texts."""
    predicted = [r.label for r in scorer.score(texts)]
    return float(f1_score(labels, predicted, average="macro", labels=list(LABELS)))


def reporting_sets(data_dir: Path, rest: pd.DataFrame) -> dict[str, tuple[list[str], list[str]]]:
    """Name -> (texts, labels) of every set scored before and after."""
    sets = {"se_github_train_rest": rest}
    sets["se_github_test"] = pd.read_csv(data_dir / "se-github" / "test.csv", keep_default_na=False)
    sets["airline_test"] = pd.read_csv(
        data_dir / "airline-tweets" / "test.csv", keep_default_na=False
    )
    out = {k: ([str(t) for t in f["text"]], [str(v) for v in f["label"]]) for k, f in sets.items()}
    if b2b_data.B2B_DEV.is_file():
        rows = b2b_data.rows_of("test")
        out["b2b_test"] = ([r.text for r in rows], [r.label for r in rows])
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--rows", type=int, default=600)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keep", type=Path, help="write the adapted artifact here (default: temp)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="tuning only: override a recipe constant of models.sentiment.adapt_recipe",
    )
    p.add_argument("--skip", default="", help="comma-separated sets not to score")
    args = p.parse_args(argv)
    for item in args.set:
        name, _, value = item.partition("=")
        setattr(R, name, type(getattr(R, name))(value))
    train = pd.read_csv(args.data_dir / "se-github" / "train.csv", keep_default_na=False)
    sample = train.sample(n=args.rows, random_state=args.seed)
    rest = train.drop(index=sample.index)
    sets = {
        k: v
        for k, v in reporting_sets(args.data_dir, rest).items()
        if k not in args.skip.split(",")
    }
    base = default_artifact_dir()
    before_scorer = _scorer(base)
    before = {name: macro_f1(before_scorer, *texts_labels) for name, texts_labels in sets.items()}
    with tempfile.TemporaryDirectory(prefix="bench-adapt-") as tmp:
        sample_path = Path(tmp) / "se_github_sample.csv"
        sample[["text", "label"]].to_csv(sample_path, index=False)
        out = args.keep or Path(tmp) / "adapted-se-github"
        started = time.time()
        report = A.adapt(
            A.AdaptRequest(
                out=out,
                data_files=(sample_path,),
                replay_data_dir=args.data_dir,
                seed=args.seed,
                threads=args.threads,
                command=f"python -m evaluation.bench_adapt {' '.join(sys.argv[1:])}",
            ),
            progress=sys.stderr.isatty(),
        )
        seconds = time.time() - started
        after_scorer = _scorer(out)
        after = {name: macro_f1(after_scorer, *texts_labels) for name, texts_labels in sets.items()}
    delta = {name: after[name] - before[name] for name in sets}
    result = {
        "rows": args.rows,
        "seed": args.seed,
        "threads": args.threads,
        "overrides": args.set,
        "adapt_seconds": round(seconds, 1),
        "selected": {"epochs": report.epochs, "interpolation": report.interpolation},
        "macro_f1_before": before,
        "macro_f1_after": after,
        "delta": delta,
        "validation": {
            k: {"before": v["before"]["macro_f1"], "after": v["after"]["macro_f1"]}
            for k, v in report.metrics.items()
        },
        "targets_met": {
            "se_github_gain": delta.get("se_github_test", np.nan) >= TARGETS["se_github_gain"],
            "airline_loss": -delta.get("airline_test", 0.0) <= TARGETS["airline_loss"],
            "b2b_loss": -delta.get("b2b_test", 0.0) <= TARGETS["b2b_loss"],
            "seconds": seconds <= TARGETS["seconds"],
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
