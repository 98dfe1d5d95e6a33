"""Few-shot topic heads: per-topic logistic regressions on embeddings, trained from corrections.

When people correct topics ("this message is about billing", "this is not about outages"),
those messages become training examples. A topic gets a head once it has at least
`min_positive` corrected positives and `min_negative` corrected negatives; its own description
and examples are added as positives and other topics' phrases as negatives (corrections
weigh CORRECTION_WEIGHT times a phrase), so a handful of corrections already gives a sensible
boundary. Heads replace the similarity rule for their
topics (see assign.py, rule 4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression

CORRECTION_WEIGHT = 3.0


@dataclass(frozen=True)
class TopicExample:
    """A corrected message: it is (or is not) about `topic`."""

    text: str
    topic: str
    present: bool


@dataclass
class TopicHeads:
    """Trained heads by topic key."""

    models: dict[str, LogisticRegression] = field(default_factory=dict)
    fingerprint: str = "none"

    @property
    def keys(self) -> list[str]:
        """Topics that have a head."""
        return sorted(self.models)

    def predict(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """Probability that each sentence is about each headed topic."""
        return {key: model.predict_proba(embeddings)[:, 1] for key, model in self.models.items()}


def examples_digest(examples: Sequence[TopicExample]) -> str:
    """A short digest of corrections (order-insensitive), to know when heads need retraining."""
    digest = hashlib.sha256()
    for line in sorted(f"{e.topic}|{int(e.present)}|{e.text}" for e in examples):
        digest.update(line.encode())
    return digest.hexdigest()[:16]


def fit_topic_heads(
    examples: Sequence[TopicExample],
    example_embeddings: np.ndarray,
    phrase_embeddings: Mapping[str, np.ndarray],
    *,
    min_positive: int = 4,
    min_negative: int = 4,
    c: float = 4.0,
) -> TopicHeads:
    """Heads for topics with enough corrections (rows of `example_embeddings` match `examples`)."""
    if len(examples) != len(example_embeddings):
        raise ValueError("one embedding per example is required")
    digest = hashlib.sha256()
    heads: dict[str, LogisticRegression] = {}
    for topic in sorted({example.topic for example in examples}):
        rows = [i for i, example in enumerate(examples) if example.topic == topic]
        positive = [i for i in rows if examples[i].present]
        negative = [i for i in rows if not examples[i].present]
        if len(positive) < min_positive or len(negative) < min_negative:
            continue
        own = phrase_embeddings.get(topic, np.zeros((0, example_embeddings.shape[1])))
        others = [v for key, v in phrase_embeddings.items() if key != topic]
        features = np.vstack(
            [example_embeddings[positive], own, example_embeddings[negative], *others]
        )
        target = np.concatenate(
            [
                np.ones(len(positive) + len(own)),
                np.zeros(len(negative) + sum(len(v) for v in others)),
            ]
        )
        # People's corrections outweigh the generic phrases they refine.
        weights = np.concatenate(
            [
                np.full(len(positive), CORRECTION_WEIGHT),
                np.ones(len(own)),
                np.full(len(negative), CORRECTION_WEIGHT),
                np.ones(sum(len(v) for v in others)),
            ]
        )
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        heads[topic] = model.fit(features, target, sample_weight=weights)
        for i in rows:
            digest.update(f"{topic}|{int(examples[i].present)}|{examples[i].text}\n".encode())
    return TopicHeads(heads, digest.hexdigest()[:12] if heads else "none")
