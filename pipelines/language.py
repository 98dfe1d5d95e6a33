"""Language identification of message text (langid.py, a model shipped inside the package).

Messages that arrive without a `language` get one here, so the scoring worker can send each
message to the model that reads its language (models/multilingual/routing.py) and leave out
languages no model reads. Short or ambiguous texts stay unknown (None), which the pipeline
treats as English.
"""

from __future__ import annotations

import functools
import re
import threading

CANDIDATES = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "pl",
    "cs",
    "ru",
    "uk",
    "tr",
    "ja",
    "zh",
    "ko",
    "ar",
    "he",
    "hi",
)
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.995  # langid is overconfident on short English text; stay near-certain
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


class LanguageDetector:
    """Detects the language of a text among CANDIDATES, or None when unsure."""

    def __init__(self, min_confidence: float = MIN_CONFIDENCE) -> None:
        from langid.langid import LanguageIdentifier, model

        self._identifier = LanguageIdentifier.from_modelstring(model, norm_probs=True)
        self._identifier.set_languages(list(CANDIDATES))
        self.min_confidence = min_confidence

    def detect(self, text: str) -> str | None:
        """An ISO 639-1 code, or None for short or ambiguous text."""
        if len(_LETTERS.findall(text)) < MIN_LETTERS:
            return None
        language, confidence = self._identifier.classify(text)
        return str(language) if confidence >= self.min_confidence else None


_DETECTOR_LOCK = threading.Lock()


@functools.cache
def _build_detector() -> LanguageDetector:
    return LanguageDetector()


def shared_detector() -> LanguageDetector:
    """One detector per process. Loading the model takes seconds on a busy machine, so the
    first callers wait for one build under a lock instead of each building their own."""
    with _DETECTOR_LOCK:
        return _build_detector()
