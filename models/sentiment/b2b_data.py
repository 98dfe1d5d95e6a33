"""The B2B development set: customer messages labelled to models/sentiment/GUIDELINE.md.

`models/sentiment/data/b2b_dev.csv` (columns text, label, source, split) was written for this
project, message by message, across six sources. Its split is a pure function of the text
(`split_of`), so it never changes when rows are added, and a text can only ever be in one
split. Train is for fitting, validation for every choice (epochs, replay, thresholds), test is
reported once.

To add messages, append rows with `split` set to `split_of(text)` (a test checks it), and
run `python -m models.sentiment.b2b_data` to see the counts per source, label and split.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
B2B_DEV = DATA_DIR / "b2b_dev.csv"
LABELS = ("negative", "neutral", "positive")
SOURCES = ("ticket", "chat", "survey", "social", "csm_note", "call")
SPLITS = ("train", "validation", "test")
# Shares of the hash space: 60 % train, 20 % validation, 20 % test.
_SPLIT_EDGES = (0.6, 0.8)

_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_CAPITALISED = re.compile(r"\b[A-Z][\w'-]*")
_PUNCT = re.compile(r"[^\w#<>\s]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Row:
    """One labelled message."""

    text: str
    label: str
    source: str
    split: str


def split_of(text: str) -> str:
    """The split a text belongs to, from a hash of its whitespace-normalised form."""
    digest = hashlib.sha256(_SPACE.sub(" ", text).strip().encode("utf-8")).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64
    if share < _SPLIT_EDGES[0]:
        return "train"
    return "validation" if share < _SPLIT_EDGES[1] else "test"


def near_duplicate_key(text: str) -> str:
    """The text with names (capitalised words) and numbers masked, punctuation dropped and
    case folded: two messages with the same key differ only in names and numbers."""
    masked = _CAPITALISED.sub("<n>", _NUMBER.sub("#", text))
    return _SPACE.sub(" ", _PUNCT.sub(" ", masked.lower())).strip()


def load(path: Path = B2B_DEV) -> list[Row]:
    """The rows of the development set (or of a file in its format)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Row(r["text"], r["label"], r["source"], r.get("split") or split_of(r["text"]))
            for r in csv.DictReader(handle)
        ]


def rows_of(split: str, path: Path = B2B_DEV) -> list[Row]:
    """The rows of one split."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    return [row for row in load(path) if row.split == split]


def summary(rows: list[Row]) -> dict[str, object]:
    """Counts per source, label and split."""
    return {
        "rows": len(rows),
        "per_source": dict(Counter(row.source for row in rows)),
        "per_label": dict(Counter(row.label for row in rows)),
        "per_split": dict(Counter(row.split for row in rows)),
    }


if __name__ == "__main__":
    print(json.dumps(summary(load()), indent=2))
    sys.exit(0)
