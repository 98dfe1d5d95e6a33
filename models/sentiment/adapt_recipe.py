"""The adaptation recipe and its request, report and data types (see `models.sentiment.adapt`).

The recipe's constants are read as `adapt_recipe.NAME` when used, so that
`python -m evaluation.bench_adapt --set NAME=VALUE` can try another value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.sentiment import b2b_data
from models.sentiment import data as D

MIN_ROWS = 30
HELDOUT_FRACTION = 0.2
MAX_EPOCHS = 4
REPLAY_RATIO = 1.0
KD_WEIGHT = 0.5
KD_TEMPERATURE = 2.0
LEARNING_RATE = 6e-5
LAYER_DECAY = 0.85
BATCH_SIZE = 32
LABEL_SMOOTHING = 0.1
WISE_ALPHAS = (0.6, 0.8, 0.9)
FORGET_SLACK = 0.01
FORGET_PENALTY = 2.0
SPLIT_COLUMN = "split"
MIN_CALIBRATION_ROWS = 100  # fewer held-out rows: keep the base model's temperature


class AdaptError(ValueError):
    """Input that cannot be adapted on; the one-line message names the problem."""


@dataclass(frozen=True)
class AdaptRequest:
    """What to adapt, on what, and where to write the new artifact."""

    out: Path
    data_files: tuple[Path, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()  # (text, label) pairs, e.g. from the database
    base: Path | None = None  # artifact dir; None = the shipped default artifact
    epochs: int | None = None  # None = chosen on held-out data
    seed: int = 13
    label_map: dict[str, str] | None = None
    replay_data_dir: Path | None = None  # e.g. ../shared/data: also replay airline/TweetEval
    b2b_path: Path | None = b2b_data.B2B_DEV  # replay + base validation; None: not used
    text_col: str = "text"
    label_col: str = "label"
    max_length: int | None = None  # None: the base artifact's
    max_epochs: int = MAX_EPOCHS
    learning_rate: float = LEARNING_RATE  # at the head; lower layers get less
    threads: int = 2
    command: str | None = None  # recorded in the manifest and card; default: sys.argv


@dataclass(frozen=True)
class AdaptReport:
    """Outcome of one adaptation."""

    out: Path
    version: str
    base_version: str
    epochs: float
    interpolation: float
    seconds: float
    sizes: dict[str, int]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "out": str(self.out),
            "version": self.version,
            "base_version": self.base_version,
            "epochs": self.epochs,
            "interpolation": self.interpolation,
            "seconds": round(self.seconds, 1),
            "sizes": self.sizes,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class NewData:
    """The new labelled rows, split into training and held-out rows, and where they came from."""

    train: D.LabelledTexts
    heldout: D.LabelledTexts
    sources: list[dict[str, Any]]
    notes: list[str]
    heldout_kind: str
