"""Language routing: each message goes to the sentiment model that reads its language.

Rule (documented in the README):
- The message's language is its `language` field; messages that arrived without one were
  given the detected language at ingestion (pipelines/language.py). Callers that have no
  language at all (the sentiment API, the evaluation without a language column) pass none
  and each text's language is detected here.
- English, and an unknown language (short or ambiguous text), go to the English model.
- A language the multilingual model was trained and validated on goes to it.
- Any other language is read by neither: `reads()` is False, the pipeline stores the message
  as `skipped_language` and counts it. (`score()` itself never drops a text: when asked
  directly it falls back to the English model, as the service did before routing.)

The router is a MessageSentimentScorer whose `model` and `version` are the English model's,
so the stored rows, rollups and promotions keep working on one model version; each result's
`model_version` names the model that actually scored it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from models.message_sentiment import MessageSentiment, MessageSentimentScorer
from models.multilingual.model import MultilingualSentimentModel, base_language

Route = Literal["english", "multilingual"]
ENGLISH = frozenset({"en"})
Detect = Callable[[str], "str | None"]


DETECT_CHARS = 2000  # enough to tell a language; bounds detection time on huge texts


def _sample(text: str | None) -> str:
    """The start of a text as valid UTF-8 (lone surrogates replaced) for detection."""
    return (text or "")[:DETECT_CHARS].encode("utf-8", "replace").decode("utf-8")


def _default_detector() -> Detect:
    from pipelines.language import shared_detector

    return shared_detector().detect


class RoutedScorer(MessageSentimentScorer):
    """The English scorer plus a multilingual one, chosen per message by language."""

    def __init__(
        self,
        english: MessageSentimentScorer,
        multilingual: MultilingualSentimentModel,
        *,
        detect: Detect | None = None,
    ) -> None:
        super().__init__(english.model, english.splitter)
        self.english = english
        self.multilingual_model = multilingual
        self.multilingual = MessageSentimentScorer(multilingual, english.splitter)
        self._detect = detect

    @property
    def multilingual_version(self) -> str:
        """Version of the model that scores non-English messages."""
        return self.multilingual_model.version

    @property
    def languages(self) -> list[str]:
        """Every language some model here reads (ISO 639-1)."""
        return sorted(ENGLISH | self.multilingual_model.languages)

    def route(self, language: str | None) -> Route | None:
        """Which model reads `language`; None when neither does."""
        if is_english(language):
            return "english"
        if self.multilingual_model.reads(language):
            return "multilingual"
        return None

    def reads(self, language: str | None) -> bool:
        """Whether some model here scores messages in `language` (unknown: English)."""
        return self.route(language) is not None

    def detect(self, texts: Sequence[str]) -> list[str | None]:
        """Detected language of each text (None when short or ambiguous)."""
        if self._detect is None:
            self._detect = _default_detector()
        return [self._detect(_sample(text)) for text in texts]

    def score(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[MessageSentiment]:
        """Score texts, each with the model of its language (detected when not given)."""
        if languages is None:
            languages = self.detect(texts)
        if len(languages) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(languages)} languages")
        groups: dict[Route, list[int]] = {"english": [], "multilingual": []}
        for index, language in enumerate(languages):
            groups[self.route(language) or "english"].append(index)
        results: list[MessageSentiment | None] = [None] * len(texts)
        pairs: tuple[tuple[Route, MessageSentimentScorer], ...] = (
            ("english", self.english),
            ("multilingual", self.multilingual),
        )
        for route, scorer in pairs:
            indexes = groups[route]
            if indexes:
                scored = scorer.score([texts[i] for i in indexes])
                for index, result in zip(indexes, scored, strict=True):
                    results[index] = result
        return [result for result in results if result is not None]


def is_english(language: str | None) -> bool:
    """English or unknown (the English model reads both)."""
    code = base_language(language)
    return not code or code in ENGLISH


def reads_language(scorer: MessageSentimentScorer, language: str | None) -> bool:
    """Whether `scorer` scores messages in `language`: a router asks its models; a plain
    scorer reads English and unknown languages only."""
    if isinstance(scorer, RoutedScorer):
        return scorer.reads(language)
    return is_english(language)


def score_messages(
    scorer: MessageSentimentScorer, texts: Sequence[str], languages: Sequence[str | None]
) -> list[MessageSentiment]:
    """Score texts whose languages are known (None: unknown, read as English)."""
    if isinstance(scorer, RoutedScorer):
        return scorer.score(texts, [language or "en" for language in languages])
    return scorer.score(texts)


def with_multilingual(
    english: MessageSentimentScorer,
    artifact_dir: Path | None = None,
    *,
    threads: int = 2,
) -> RoutedScorer:
    """`english` routed together with the multilingual model (checksums verified on load)."""
    return RoutedScorer(english, MultilingualSentimentModel(artifact_dir, threads=threads))
