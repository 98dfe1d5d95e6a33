"""The project's transformer sentiment model (fine-tuned MiniLM, int8 ONNX) as a backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from models.backends import LABELS
from models.message_sentiment import MessageSentimentScorer
from models.sentences import SentenceSplitter
from models.sentiment.inference import OnnxSentimentModel, default_artifact_dir
from models.sentiment.preprocess import normalize_text


class MiniLMBackend:
    """Calibrated probabilities of the shipped artifact on whole texts (columns: LABELS)."""

    name = "minilm-raw"

    def __init__(self, artifact_dir: Path | None = None, *, threads: int = 2) -> None:
        self.model = OnnxSentimentModel.load(
            artifact_dir or default_artifact_dir(), threads=threads
        )
        self.version = self.model.version
        self.max_length = int(self.model.manifest["max_length"])
        self._columns = [self.model.labels.index(label) for label in LABELS]
        self._counter = Tokenizer.from_file(
            str(self.model.artifact_dir / self.model.manifest["tokenizer"])
        )
        self._counter.no_truncation()
        self._counter.no_padding()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) calibrated probabilities."""
        return self.calibrated(self.model.logits(list(texts)))

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """(n, 3) calibrated probabilities (columns: LABELS) of the graph's raw logits."""
        scaled = logits.astype(np.float64) / self.model.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        probabilities = np.exp(scaled)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities[:, self._columns]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text (with special tokens), before truncation."""
        encodings = self._counter.encode_batch([normalize_text(text) for text in texts])
        return [len(encoding.ids) for encoding in encodings]


class MessageLevelBackend:
    """The product's message path (clean, split, route by language, score, aggregate) as a
    backend. By default English goes to the MiniLM model and the languages of the
    multilingual model to it (models/multilingual/routing.py)."""

    name = "minilm"
    routes_languages = True

    def __init__(self, scorer: MessageSentimentScorer | None = None) -> None:
        if scorer is None:
            from models.multilingual.routing import with_multilingual

            scorer = with_multilingual(MessageSentimentScorer(MiniLMBackend(), SentenceSplitter()))
        self.scorer = scorer
        self.version = self.scorer.version

    def predict_proba(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """(n, 3) message-level probabilities; with `languages` (None: unknown, English),
        each text goes to the model of its language, else languages are detected."""
        from models.multilingual.routing import score_messages

        if languages is not None:
            results = score_messages(self.scorer, texts, languages)
        else:  # a routed scorer detects each text's language
            results = self.scorer.score(texts)
        return np.array([[r.probabilities[label] for label in LABELS] for r in results]).reshape(
            -1, len(LABELS)
        )
