"""Message-level sentiment: clean -> split into sentences -> score in one batch -> aggregate.

Aggregation rule (documented in the README):
- A message that fits the model's window (<= max_length tokens after cleaning) takes the
  model's prediction on the whole cleaned text: the model sees all the context ("thanks, but
  this is the third time ...").
- A longer message (emails, transcripts) takes the weighted mean of its sentences'
  probabilities, weight = sqrt(characters) x (0.1 + |p_positive - p_negative|)^2: opinionated
  sentences dominate neutral narrative (one "this is unacceptable" outweighs ten sentences of
  context), and a long sentence counts more than a short one.
- Either way each sentence keeps its own scores, for explanations ("which sentences made this
  negative") and for per-topic sentiment.
- Only the first MAX_SCORED_CHARS characters of the cleaned text are scored (`removed` then
  lists "truncated"). Ingestion keeps messages far shorter by default (max_text_chars); the
  cap bounds the time one message can take whatever the settings: every sentence is a model
  input, and a megabyte of short sentences would take minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from models.backends import LABELS
from models.text_cleaning import CleanedText, clean_message

if TYPE_CHECKING:  # spaCy is imported only where sentences are split
    from models.sentences import Sentence, SentenceSplitter

NEUTRAL_FLOOR = 0.1
MAX_SCORED_CHARS = 50_000


class ProbabilityModel(Protocol):
    """A calibrated model over LABELS with a token window."""

    version: str
    max_length: int

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) calibrated probabilities."""
        ...

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text takes, before truncation."""
        ...


@dataclass(frozen=True)
class SentenceSentiment:
    """One sentence's scores and where it sits in the cleaned text."""

    text: str
    start: int
    end: int
    label: str
    probabilities: dict[str, float]
    score: float


@dataclass(frozen=True)
class MessageSentiment:
    """A message's label, probabilities, score in [-1, 1] and its sentences."""

    label: str
    probabilities: dict[str, float]
    score: float
    model_version: str
    aggregation: str
    cleaned_text: str
    removed: list[str]
    sentences: list[SentenceSentiment]


def _as_dict(row: np.ndarray) -> dict[str, float]:
    return {label: float(value) for label, value in zip(LABELS, row, strict=True)}


def _score(row: np.ndarray) -> float:
    return float(np.clip(row[2] - row[0], -1.0, 1.0))


def aggregate_sentences(probabilities: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Weighted mean of sentence probabilities (the long-message rule above)."""
    if len(lengths) == 0:
        return np.array([0.0, 1.0, 0.0])
    polarity = np.abs(probabilities[:, 2] - probabilities[:, 0])
    weights = np.sqrt(np.maximum(np.asarray(lengths, dtype=float), 1.0)) * (
        (NEUTRAL_FLOOR + polarity) ** 2
    )
    mean = (weights[:, None] * probabilities).sum(axis=0) / weights.sum()
    return mean / mean.sum()


def _bounded(item: CleanedText) -> CleanedText:
    """`item` cut to its first MAX_SCORED_CHARS characters (see the module docstring)."""
    if len(item.text) <= MAX_SCORED_CHARS:
        return item
    return CleanedText(item.text[:MAX_SCORED_CHARS], [*item.removed, "truncated"])


class MessageSentimentScorer:
    """Scores whole messages with a sentence model and a sentence splitter."""

    def __init__(self, model: ProbabilityModel, splitter: SentenceSplitter) -> None:
        self.model = model
        self.splitter = splitter

    @property
    def version(self) -> str:
        """The model version recorded with every result."""
        return self.model.version

    def score(self, texts: Sequence[str]) -> list[MessageSentiment]:
        """Score messages; all sentences and whole texts of the batch go in one model call."""
        cleaned = [_bounded(clean_message(text or "")) for text in texts]
        split = self.splitter.split([item.text for item in cleaned])
        fits = [
            count <= self.model.max_length
            for count in self.model.token_counts([c.text for c in cleaned])
        ]
        inputs: list[str] = []
        whole_at: list[int] = []
        sentences_at: list[list[int]] = []
        for item, sentences, fit in zip(cleaned, split, fits, strict=True):
            needs_whole = fit and len(sentences) != 1
            whole_at.append(len(inputs) if needs_whole else -1)
            if needs_whole:
                inputs.append(item.text)
            sentences_at.append(list(range(len(inputs), len(inputs) + len(sentences))))
            inputs.extend(sentence.text for sentence in sentences)
        probabilities = self.model.predict_proba(inputs) if inputs else np.zeros((0, 3))
        return [
            self._message(item, sentences, probabilities, whole, rows)
            for item, sentences, whole, rows in zip(
                cleaned, split, whole_at, sentences_at, strict=True
            )
        ]

    def _message(
        self,
        item: CleanedText,
        sentences: list[Sentence],
        probabilities: np.ndarray,
        whole: int,
        rows: list[int],
    ) -> MessageSentiment:
        sentence_probs = probabilities[rows] if rows else np.zeros((0, 3))
        if whole >= 0:
            message, rule = probabilities[whole], "whole_text"
        elif len(rows) == 1:
            message, rule = sentence_probs[0], "single_sentence"
        else:
            lengths = [len(sentence.text) for sentence in sentences]
            message, rule = aggregate_sentences(sentence_probs, lengths), "sentence_weighted"
        return MessageSentiment(
            label=LABELS[int(np.argmax(message))],
            probabilities=_as_dict(message),
            score=_score(message),
            model_version=self.model.version,
            aggregation=rule,
            cleaned_text=item.text,
            removed=list(item.removed),
            sentences=[
                SentenceSentiment(
                    text=sentence.text,
                    start=sentence.start,
                    end=sentence.end,
                    label=LABELS[int(np.argmax(row))],
                    probabilities=_as_dict(row),
                    score=_score(row),
                )
                for sentence, row in zip(sentences, sentence_probs, strict=True)
            ],
        )
