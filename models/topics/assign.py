"""Multi-label topic assignment at sentence level, with per-topic (aspect) sentiment.

Rule (documented in the README):
1. Every sentence is embedded with the topic encoder (all-MiniLM-L6-v2). Each topic has a
   prototype set: the embeddings of its description and example phrasings.
2. similarity(sentence, topic) = mean of (cosine to the mean prototype, best cosine to any
   single phrase): the mean prototype captures the topic as a whole, the best single phrase
   catches a specific phrasing.
3. A sentence gets its most similar topic when that similarity reaches the topic's threshold,
   plus any other topic within `margin` of the best one that also reaches its threshold.
   Confidence = logistic((similarity - threshold) / sharpness): 0.5 at the threshold.
4. When a topic has a few-shot head (trained from people's corrections, see heads.py), the
   head's probability replaces rule 3 for that topic: assigned when >= 0.5.
5. A sentence naming a configured competitor is assigned the `competitor` topic with
   confidence 1.
6. A message's topics are the union over its sentences; each keeps the sentences that carry
   it, the most confident one as evidence, and the mean sentiment of those sentences.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from models.backends import LABELS
from models.topics.taxonomy import Taxonomy

if TYPE_CHECKING:
    from models.message_sentiment import MessageSentiment
    from models.topics.competitors import CompetitorMatcher, CompetitorMention
    from models.topics.heads import TopicHeads

COMPETITOR_TOPIC = "competitor"
MIN_WORDS = 2  # one-word sentences ("Thanks!", "Hi,") carry no topic


class Encoder(Protocol):
    """Sentence embeddings, rows L2-normalised."""

    version: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, dimension) float32."""
        ...


@dataclass(frozen=True)
class SentenceTopic:
    """A topic found in one sentence."""

    sentence_index: int
    topic: str
    confidence: float
    similarity: float


@dataclass(frozen=True)
class TopicFinding:
    """A topic of a message: confidence, evidence sentence and aspect sentiment."""

    topic: str
    confidence: float
    sentence_indexes: tuple[int, ...]
    evidence_index: int
    evidence: str
    score: float | None
    label: str | None


@dataclass(frozen=True)
class MessageTopics:
    """Topics and competitor mentions of one message."""

    topics: list[TopicFinding]
    competitors: list[CompetitorMention]
    sentence_topics: list[SentenceTopic]


def _logistic(value: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-value))


class TopicAssigner:
    """Assigns taxonomy topics to sentences and messages."""

    def __init__(
        self,
        encoder: Encoder,
        taxonomy: Taxonomy,
        *,
        heads: TopicHeads | None = None,
        competitors: CompetitorMatcher | None = None,
        competitors_version: str = "",
        margin: float = 0.03,
        sharpness: float = 0.05,
        phrase_encoder: Encoder | None = None,
    ) -> None:
        self.encoder = encoder
        self.taxonomy = taxonomy
        self.heads = heads
        self.competitors = competitors
        self.margin = margin
        self.sharpness = sharpness
        self.topics = taxonomy.all_topics()
        self.keys = [topic.key for topic in self.topics]
        self.thresholds = np.array([taxonomy.threshold(topic) for topic in self.topics])
        phrases = [topic.phrases() for topic in self.topics]
        # The taxonomy's phrases are embedded once, by `phrase_encoder` where given (the base
        # topic encoder when sentences come from the shared sentiment pass, see shared.py).
        embedded = (phrase_encoder or encoder).encode([text for group in phrases for text in group])
        self._phrase_owner = np.repeat(np.arange(len(phrases)), [len(g) for g in phrases])
        self._phrase_starts = np.searchsorted(self._phrase_owner, np.arange(len(phrases)))
        self._phrases = embedded
        means = np.stack(
            [embedded[self._phrase_owner == index].mean(axis=0) for index in range(len(phrases))]
        )
        self._prototypes = means / np.linalg.norm(means, axis=1, keepdims=True)
        digest = hashlib.sha256(taxonomy.sha256().encode())
        if heads is not None:
            digest.update(heads.fingerprint.encode())
        if competitors is not None:
            digest.update(f"competitors:{competitors_version}".encode())
        if phrase_encoder is not None:
            digest.update(f"phrases:{phrase_encoder.version}".encode())
        self.version = f"topics-{taxonomy.key}-{digest.hexdigest()[:10]}+{encoder.version}"

    def phrase_embeddings(self) -> dict[str, np.ndarray]:
        """Each topic's description and example embeddings (few-shot heads train on them)."""
        return {key: self._phrases[self._phrase_owner == i] for i, key in enumerate(self.keys)}

    def embed(self, sentences: Sequence[str]) -> np.ndarray:
        """Embeddings of sentences; each distinct text is encoded once (templates, signatures
        and repeated lines are common), and texts under MIN_WORDS words get a zero vector,
        which matches no topic."""
        out = np.zeros((len(sentences), self.encoder.dimension), dtype=np.float32)
        rows: dict[str, list[int]] = {}
        for index, text in enumerate(sentences):
            if len(text.split()) >= MIN_WORDS:
                rows.setdefault(text, []).append(index)
        if rows:
            unique = list(rows)
            encoded = self.encoder.encode(unique)
            for text, vector in zip(unique, encoded, strict=True):
                out[rows[text]] = vector
        return out

    def similarities(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, topics) similarity of each sentence embedding to each topic (rule 2)."""
        if len(embeddings) == 0:
            return np.zeros((0, len(self.keys)))
        to_mean = embeddings @ self._prototypes.T
        to_phrase = embeddings @ self._phrases.T
        # Phrases are stored topic by topic, so one reduceat takes each topic's best phrase.
        best = np.maximum.reduceat(to_phrase, self._phrase_starts, axis=1)
        return (to_mean.astype(np.float64) + best) / 2.0

    def probabilities(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, confidences) per sentence and topic; heads override where trained."""
        similarity = self.similarities(embeddings)
        confidence = _logistic((similarity - self.thresholds) / self.sharpness)
        if self.heads is not None and len(embeddings):
            for key, probability in self.heads.predict(embeddings).items():
                if key in self.keys:
                    confidence[:, self.keys.index(key)] = probability
        return similarity, confidence

    def assign_sentences(
        self, embeddings: np.ndarray, allowed: set[str] | None = None
    ) -> list[list[SentenceTopic]]:
        """Topics of each sentence (rules 3-4), restricted to `allowed` keys when given."""
        similarity, confidence = self.probabilities(embeddings)
        return self._select(similarity, confidence, allowed)

    def _select(
        self, similarity: np.ndarray, confidence: np.ndarray, allowed: set[str] | None
    ) -> list[list[SentenceTopic]]:
        """Rules 3-4 on precomputed (sentences, topics) similarities and confidences."""
        usable = np.array([allowed is None or key in allowed for key in self.keys])
        headed = set(self.heads.keys) if self.heads is not None else set()
        result: list[list[SentenceTopic]] = []
        for row in range(len(similarity)):
            passes = usable & (confidence[row] >= 0.5)
            found: list[SentenceTopic] = []
            if passes.any():
                margin = similarity[row] - self.thresholds
                top = float(margin[passes].max())
                for index in np.flatnonzero(passes):
                    key = self.keys[index]
                    if key in headed or margin[index] >= top - self.margin:
                        found.append(
                            SentenceTopic(
                                row,
                                key,
                                float(confidence[row, index]),
                                float(similarity[row, index]),
                            )
                        )
            result.append(found)
        return result

    def assign(
        self,
        messages: Sequence[MessageSentiment],
        attributes: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[MessageTopics]:
        """Topics of scored messages; all their sentences are embedded in one call."""
        sentences = [[s.text for s in message.sentences] for message in messages]
        embeddings = self.embed([text for group in sentences for text in group])
        similarity, confidence = self.probabilities(embeddings)
        results: list[MessageTopics] = []
        offset = 0
        for position, message in enumerate(messages):
            count = len(sentences[position])
            account = attributes[position] if attributes is not None else None
            allowed = self.taxonomy.keys_for(account)
            rows = slice(offset, offset + count)
            per_sentence = self._select(similarity[rows], confidence[rows], allowed)
            offset += count
            mentions = (
                self.competitors.find_in_sentences(sentences[position])
                if self.competitors is not None
                else []
            )
            if mentions and COMPETITOR_TOPIC in allowed:
                for mention in mentions:
                    per_sentence[mention.sentence_index] = [
                        t
                        for t in per_sentence[mention.sentence_index]
                        if t.topic != COMPETITOR_TOPIC
                    ] + [SentenceTopic(mention.sentence_index, COMPETITOR_TOPIC, 1.0, 1.0)]
            flat_topics = [topic for group in per_sentence for topic in group]
            results.append(
                MessageTopics(
                    topics=aspect_findings(flat_topics, message),
                    competitors=list(mentions),
                    sentence_topics=flat_topics,
                )
            )
        return results


def aspect_findings(
    sentence_topics: Sequence[SentenceTopic], message: MessageSentiment
) -> list[TopicFinding]:
    """Group sentence topics by topic, with evidence and the mean sentiment of the sentences."""
    by_topic: dict[str, list[SentenceTopic]] = {}
    for item in sentence_topics:
        by_topic.setdefault(item.topic, []).append(item)
    findings: list[TopicFinding] = []
    for topic, items in by_topic.items():
        indexes = tuple(sorted({item.sentence_index for item in items}))
        best = max(items, key=lambda item: item.confidence)
        sentiments = [message.sentences[i] for i in indexes if i < len(message.sentences)]
        score = label = None
        if sentiments:
            mean = np.mean([[s.probabilities[k] for k in LABELS] for s in sentiments], axis=0)
            label = LABELS[int(np.argmax(mean))]
            score = float(np.clip(mean[2] - mean[0], -1.0, 1.0))
        findings.append(
            TopicFinding(
                topic=topic,
                confidence=round(best.confidence, 4),
                sentence_indexes=indexes,
                evidence_index=best.sentence_index,
                evidence=message.sentences[best.sentence_index].text,
                score=score,
                label=label,
            )
        )
    return sorted(findings, key=lambda finding: -finding.confidence)
