"""Sentiment backends by name: each scores texts as probabilities over LABELS.

The evaluation, the API and the benchmarks look a backend up by name in BACKENDS, so a new
model is added there and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Protocol, runtime_checkable

import numpy as np

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")


@runtime_checkable
class SentimentBackend(Protocol):
    """Anything that turns texts into class probabilities (columns in LABELS order)."""

    name: str
    version: str

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, 3) array of probabilities, rows summing to 1."""
        ...


class VaderBackend:
    """The VADER lexicon, for comparison only.

    VADER gives a compound score c in [-1, 1]; it is mapped to probabilities by a fixed softmax
    over logits (-4c, 1 - 4|c|, 4c), so |c| near 0 is neutral and the argmax follows the sign.
    """

    name = "vader"

    def __init__(self) -> None:
        import vaderSentiment.vaderSentiment as vader

        self._analyzer = vader.SentimentIntensityAnalyzer()
        self.version = f"vaderSentiment-{getattr(vader, '__version__', '3.3.2')}"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities from the compound score of each text."""
        compound = np.array(
            [self._analyzer.polarity_scores(text or "")["compound"] for text in texts],
            dtype=np.float64,
        ).reshape(-1)
        logits = np.stack([-4 * compound, 1 - 4 * np.abs(compound), 4 * compound], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)


# name -> "module:class"; imported only when asked for, so listing names loads no model.
BACKENDS: dict[str, str] = {
    "minilm": "models.minilm:MessageLevelBackend",
    "minilm-raw": "models.minilm:MiniLMBackend",
    "vader": "models.backends:VaderBackend",
    "e5-multilingual-raw": "models.multilingual.model:MultilingualSentimentModel",
}


def backend_names() -> list[str]:
    """Names that `load_backend` accepts."""
    return sorted(BACKENDS)


def load_backend(name: str) -> SentimentBackend:
    """A backend by name; raises KeyError listing the known names."""
    if name not in BACKENDS:
        raise KeyError(f"unknown sentiment backend {name!r}; known: {', '.join(backend_names())}")
    module_name, _, class_name = BACKENDS[name].partition(":")
    factory: Callable[[], SentimentBackend] = getattr(import_module(module_name), class_name)
    return factory()
