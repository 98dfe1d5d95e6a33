"""Dataset loading, deterministic train/validation splits and length-bucketed batching."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.sentiment.preprocess import normalize_text

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
LABEL_TO_ID = {label: i for i, label in enumerate(LABELS)}
# The licence each training corpus brings to a model trained on it.
DATA_LICENCES = {
    "airline": "CC BY-NC-SA 4.0: non-commercial use only, inherited from the Twitter US "
    "Airline Sentiment training data",
    "tweeteval": "TweetEval: no licence of its own; the SemEval-2017 terms and Twitter's terms "
    "apply to the underlying tweets",
    "b2b": "B2B development set: written for this project, Apache-2.0 like the code",
}
AIRLINE_VAL_FRACTION = 0.10
TWEETEVAL_VAL_FRACTION = 0.25


@dataclass(frozen=True)
class LabelledTexts:
    """Normalised texts with integer labels and the name of their source corpus."""

    texts: list[str]
    labels: np.ndarray
    source: list[str]
    raw: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: Sequence[int]) -> LabelledTexts:
        """Rows at the given positions."""
        idx = list(idx)
        return LabelledTexts(
            [self.texts[i] for i in idx],
            self.labels[idx],
            [self.source[i] for i in idx],
            [self.raw[i] for i in idx],
        )

    def where_source(self, name: str) -> LabelledTexts:
        """Rows that came from one corpus."""
        return self.subset([i for i, s in enumerate(self.source) if s == name])


def concat(parts: Sequence[LabelledTexts]) -> LabelledTexts:
    """Concatenate several labelled sets, keeping order."""
    return LabelledTexts(
        [t for p in parts for t in p.texts],
        np.concatenate([p.labels for p in parts]).astype(np.int64),
        [s for p in parts for s in p.source],
        [r for p in parts for r in p.raw],
    )


def read_csv(path: Path, source: str) -> LabelledTexts:
    """Read a `text,label,...` CSV and normalise its texts."""
    frame = pd.read_csv(path, keep_default_na=False)
    raw = [str(t) for t in frame["text"]]
    labels = np.array([LABEL_TO_ID[str(v)] for v in frame["label"]], dtype=np.int64)
    return LabelledTexts([normalize_text(t) for t in raw], labels, [source] * len(raw), raw)


def stratified_split(
    data: LabelledTexts, fraction: float, seed: int
) -> tuple[LabelledTexts, LabelledTexts]:
    """Seeded per-class split into (train, held-out) with `fraction` held out."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in range(len(LABELS)):
        idx = np.flatnonzero(data.labels == label)
        rng.shuffle(idx)
        held.extend(idx[: round(fraction * len(idx))].tolist())
    held_set = set(held)
    keep = [i for i in range(len(data)) if i not in held_set]
    return data.subset(keep), data.subset(sorted(held))


@dataclass(frozen=True)
class Splits:
    """Training, validation (selection + calibration) and reporting-only test sets."""

    train: LabelledTexts
    val: LabelledTexts
    test: dict[str, LabelledTexts]


def data_licence(domains: Sequence[str]) -> str:
    """The data licence of a model trained on these corpora (non-commercial terms first)."""
    return "; ".join(DATA_LICENCES[d] for d in sorted(domains, key=list(DATA_LICENCES).index))


def b2b_split(split: str, path: Path | None = None) -> LabelledTexts:
    """One split of the in-repository B2B development set (or a file in its format), as
    source "b2b"."""
    from models.sentiment import b2b_data

    rows = b2b_data.rows_of(split, path or b2b_data.B2B_DEV)
    raw = [row.text for row in rows]
    labels = np.array([LABEL_TO_ID[row.label] for row in rows], dtype=np.int64)
    return LabelledTexts([normalize_text(t) for t in raw], labels, ["b2b"] * len(raw), raw)


def repeat(data: LabelledTexts, times: int) -> LabelledTexts:
    """The set repeated `times` times (oversampling a small corpus)."""
    return concat([data] * times)


def load_splits(
    data_dir: Path,
    domains: Sequence[str],
    split_seed: int,
    oversample: dict[str, int] | None = None,
) -> Splits:
    """Build splits; `domains` picks training corpora ("airline", "tweeteval", "b2b").

    The B2B set's test split is always reported; its train split is oversampled
    `oversample["b2b"]` times when it is a training domain."""
    oversample = oversample or {}
    airline = read_csv(data_dir / "airline-tweets" / "train.csv", "airline")
    tweeteval = read_csv(data_dir / "tweeteval-sentiment" / "val.csv", "tweeteval")
    air_train, air_val = stratified_split(airline, AIRLINE_VAL_FRACTION, split_seed)
    te_train, te_val = stratified_split(tweeteval, TWEETEVAL_VAL_FRACTION, split_seed)
    train_parts, val_parts = [], []
    test = {"airline_test": read_csv(data_dir / "airline-tweets" / "test.csv", "airline")}
    if "airline" in domains:
        train_parts.append(air_train)
        val_parts.append(air_val)
    if "tweeteval" in domains:
        train_parts.append(te_train)
        val_parts.append(te_val)
    else:
        test["tweeteval_all_2000"] = tweeteval
    if "b2b" in domains:
        train_parts.append(repeat(b2b_split("train"), oversample.get("b2b", 1)))
        val_parts.append(b2b_split("validation"))
    test["b2b_test"] = b2b_split("test")
    unknown = set(domains) - {"airline", "tweeteval", "b2b"}
    if unknown:
        raise ValueError(f"unknown training domains: {sorted(unknown)}")
    if not train_parts:
        raise ValueError("no training domain given")
    return Splits(concat(train_parts), concat(val_parts), test)


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, *, pool: int = 50
) -> Iterator[list[int]]:
    """Shuffled batches of similar-length examples (sort within pools of `pool` batches)."""
    order = rng.permutation(len(lengths))
    batches: list[list[int]] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span].tolist(), key=lambda i: lengths[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    for b in rng.permutation(len(batches)):
        yield batches[b]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Deterministic length-sorted batches for evaluation."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[j : j + batch_size] for j in range(0, len(order), batch_size)]
