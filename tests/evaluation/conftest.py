"""Fixtures for the evaluation tests: small labelled files and a deterministic fake backend."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

ROWS = [
    {"text": "I love this product, it is great", "label": "positive", "source": "chat"},
    {"text": "Terrible support, very bad experience", "label": "negative", "source": "ticket"},
    {"text": "The invoice was sent on Monday", "label": "neutral", "source": "ticket"},
    {"text": "Awesome, thanks so much for the help!", "label": "positive", "source": "survey"},
    {"text": "This is awful and broken again", "label": "negative", "source": "chat"},
    {"text": "Please update the billing address", "label": "neutral", "source": "survey"},
]


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str] | None = None) -> Path:
    """Write rows as a UTF-8 CSV with a header."""
    columns = list(columns or rows[0].keys())
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: Sequence[dict]) -> Path:
    """Write rows as JSON lines."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def rows() -> list[dict]:
    """A small three-class labelled sample."""
    return [dict(row) for row in ROWS]


@pytest.fixture
def csv_file(tmp_path: Path, rows: list[dict]) -> Path:
    """The sample as CSV."""
    return write_csv(tmp_path / "sample.csv", rows)


class FakeBackend:
    """Returns fixed probabilities per text (uniform-ish neutral for unknown texts)."""

    def __init__(self, table: dict[str, Sequence[float]], name: str = "fake") -> None:
        self.name = name
        self.version = f"{name}-1.0"
        self._table = table

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Rows from the table, in LABELS order."""
        default = [0.2, 0.6, 0.2]
        return np.array([self._table.get(text, default) for text in texts], dtype=np.float64)
