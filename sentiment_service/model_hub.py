"""The NLP models the service uses, loaded once (on first use or at start-up) and described."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.checksums import file_sha256
from models.message_sentiment import MessageSentimentScorer
from models.minilm import MiniLMBackend
from models.multilingual.routing import RoutedScorer, with_multilingual
from models.sentences import SentenceSplitter
from models.topics.assign import TopicAssigner
from models.topics.competitors import DEFAULT_COMPETITORS_PATH, CompetitorMatcher
from models.topics.encoder import SentenceEncoder, load_sentence_encoder
from models.topics.heads import TopicExample, examples_digest, fit_topic_heads
from models.topics.keyphrases import KeyphraseExtractor
from models.topics.taxonomy import Taxonomy, load_taxonomy
from sentiment_service.errors import NotReadyError


@dataclass(frozen=True)
class ModelInfo:
    """What `GET /v1/models` shows about one model."""

    name: str
    kind: str
    version: str
    checksums: dict[str, str]
    metrics: dict[str, Any] = field(default_factory=dict)
    default: bool = False
    data_licence: str | None = None
    languages: list[str] = field(default_factory=list)


AIRLINE_LICENCE = (
    "CC BY-NC-SA 4.0: non-commercial use only, inherited from the Twitter US Airline "
    "Sentiment training data"
)


def data_licence(manifest: dict[str, Any]) -> str | None:
    """The licence of a model's training data: the manifest's `data_licence`, else derived
    from the training domains it names (airline data: non-commercial); None when unknown."""
    stated = manifest.get("data_licence")
    if stated:
        return str(stated)
    training = manifest.get("training")
    domains = str(training.get("domains", "")) if isinstance(training, dict) else ""
    return AIRLINE_LICENCE if "airline" in domains else None


class ModelHub:
    """Owns the sentiment scorer and the topic assigner; thread-safe lazy loading; injected."""

    def __init__(
        self,
        artifact_dir: Path | None = None,
        spacy_package: str | None = None,
        *,
        resolve_artifact: Callable[[], Path | None] | None = None,
        encoder_dir: Path | None = None,
        multilingual: bool = True,
        multilingual_dir: Path | None = None,
    ) -> None:
        self._artifact_dir = artifact_dir
        self._multilingual = multilingual
        self._multilingual_dir = multilingual_dir
        self._resolve_artifact = resolve_artifact
        self._spacy_package = spacy_package
        self._lock = threading.Lock()
        self._scorer: MessageSentimentScorer | None = None
        self._encoder_dir = encoder_dir
        self._encoder: SentenceEncoder | None = None
        self._competitors: CompetitorMatcher | None = None
        self._assigner: TopicAssigner | None = None
        self._assigner_key: tuple[str, str] | None = None
        self._keyphrases: KeyphraseExtractor | None = None
        self.error: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether the models are in memory."""
        return self._scorer is not None

    def scorer(self) -> MessageSentimentScorer:
        """The message sentiment scorer, loading the models the first time.

        Raises NotReadyError (HTTP 503) when they cannot be loaded, e.g. a checksum mismatch.
        """
        if self._scorer is None:
            with self._lock:
                if self._scorer is None:
                    try:
                        artifact = self._artifact_dir or (
                            self._resolve_artifact() if self._resolve_artifact else None
                        )
                        backend = MiniLMBackend(artifact)
                        splitter = (
                            SentenceSplitter(self._spacy_package)
                            if self._spacy_package
                            else SentenceSplitter()
                        )
                        scorer = self._routed(MessageSentimentScorer(backend, splitter))
                    except Exception as error:
                        self.error = f"{type(error).__name__}: {error}"
                        raise NotReadyError(
                            f"the sentiment model could not be loaded: {self.error}"
                        ) from error
                    self._scorer = scorer
                    self.error = None
        return self._scorer

    def _routed(self, english: MessageSentimentScorer) -> MessageSentimentScorer:
        """`english` plus the multilingual model, routed by language (when enabled)."""
        if not self._multilingual or isinstance(english, RoutedScorer):
            return english
        current = self._scorer
        if isinstance(current, RoutedScorer):  # keep the loaded multilingual model
            return RoutedScorer(english, current.multilingual_model)
        return with_multilingual(english, self._multilingual_dir)

    def swap(self, scorer: MessageSentimentScorer) -> None:
        """Serve `scorer` from now on (after a promotion of the English model, which keeps
        the multilingual route)."""
        routed = self._routed(scorer)
        with self._lock:
            self._scorer = routed
            self.error = None

    def topic_assigner(
        self,
        taxonomy: Taxonomy | None = None,
        corrections: Sequence[TopicExample] | Callable[[], Sequence[TopicExample]] = (),
        *,
        corrections_stamp: str | None = None,
    ) -> TopicAssigner:
        """A topic assigner for `taxonomy` (default: the shipped one), with few-shot heads
        trained from people's topic corrections when there are enough; the encoder loads once.

        The last assigner is kept, so asking again with the same inputs costs nothing. With a
        `corrections_stamp` (anything that changes when the corrections change), `corrections`
        may be a loader that is only called when the stamp differs from the kept one.
        """
        taxonomy = taxonomy or load_taxonomy()
        if corrections_stamp is None:
            corrections = corrections() if callable(corrections) else corrections
            corrections_stamp = examples_digest(corrections)
        key = (taxonomy.sha256(), corrections_stamp)
        if self._assigner is not None and self._assigner_key == key:
            return self._assigner
        if callable(corrections):
            corrections = corrections()
        with self._lock:
            try:
                if self._encoder is None:
                    self._encoder = load_sentence_encoder(self._encoder_dir)
                if self._competitors is None:
                    self._competitors = CompetitorMatcher.from_yaml(DEFAULT_COMPETITORS_PATH)
            except Exception as error:
                self.error = f"{type(error).__name__}: {error}"
                raise NotReadyError(f"the topic model could not be loaded: {self.error}") from error
            competitors = self._competitors
            competitors_version = file_sha256(DEFAULT_COMPETITORS_PATH)[:12]
            assigner = TopicAssigner(
                self._encoder,
                taxonomy,
                competitors=competitors,
                competitors_version=competitors_version,
            )
            if corrections:
                heads = fit_topic_heads(
                    corrections,
                    self._encoder.encode([example.text for example in corrections]),
                    assigner.phrase_embeddings(),
                )
                if heads.models:
                    assigner = TopicAssigner(
                        self._encoder,
                        taxonomy,
                        heads=heads,
                        competitors=competitors,
                        competitors_version=competitors_version,
                    )
            self._assigner, self._assigner_key = assigner, key
            return self._assigner

    def keyphrases(self) -> KeyphraseExtractor:
        """The keyphrase extractor (tagger + entity filter), loading it the first time.

        Raises NotReadyError (HTTP 503) when the spaCy model cannot be loaded or verified.
        """
        if self._keyphrases is None:
            with self._lock:
                if self._keyphrases is None:
                    try:
                        self._keyphrases = (
                            KeyphraseExtractor(self._spacy_package)
                            if self._spacy_package
                            else KeyphraseExtractor()
                        )
                    except Exception as error:
                        self.error = f"{type(error).__name__}: {error}"
                        raise NotReadyError(
                            f"the keyphrase model could not be loaded: {self.error}"
                        ) from error
        return self._keyphrases

    @staticmethod
    def _multilingual_info(scorer: MessageSentimentScorer) -> list[ModelInfo]:
        """The multilingual sentiment model's entry, when the scorer routes to one."""
        if not isinstance(scorer, RoutedScorer):
            return []
        model = scorer.multilingual_model
        return [
            ModelInfo(
                name="e5-multilingual",
                kind="sentiment",
                version=model.version,
                checksums={
                    **dict(model.manifest.get("files", {})),
                    "encoder": model.encoder.checksum,
                },
                metrics=dict(model.manifest.get("metrics", {})),
                data_licence=data_licence(model.manifest),
                languages=sorted(model.languages),
            )
        ]

    def describe(self) -> list[ModelInfo]:
        """The loaded models with versions, checksums and model-card metrics."""
        scorer = self.scorer()
        backend = scorer.model
        if not isinstance(backend, MiniLMBackend):
            raise TypeError(f"the scorer runs {type(backend).__name__}, not the MiniLM backend")
        manifest = backend.model.manifest
        return [
            ModelInfo(
                name="minilm",
                kind="sentiment",
                version=backend.version,
                checksums=dict(manifest.get("files", {})),
                metrics=dict(manifest.get("metrics", {})),
                default=True,
                data_licence=data_licence(manifest),
                languages=["en"],
            ),
            *self._multilingual_info(scorer),
            *(
                [
                    ModelInfo(
                        name="topic-encoder",
                        kind="topics",
                        version=self._encoder.version,
                        checksums={},
                    )
                ]
                if self._encoder is not None
                else []
            ),
            ModelInfo(
                name="sentence-splitter",
                kind="sentence_splitter",
                version=scorer.splitter.version,
                checksums={"model_files": scorer.splitter.checksum},
            ),
        ]
