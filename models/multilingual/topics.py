"""Zero-shot topics for non-English messages through the multilingual e5 embeddings.

The English topic model compares sentences with the taxonomy's descriptions and examples
embedded by an English-only encoder. For other languages the same rule runs on
multilingual-e5-small embeddings (sentences and taxonomy phrases both with the "query: "
prefix): an English description lies close to a German or Portuguese sentence that says the
same. Few-shot heads (trained on English-encoder embeddings) do not apply here.

e5 cosines sit in a narrow, high band (off-topic sentences still reach 0.82-0.86), so the
taxonomy's thresholds, calibrated for the English encoder, are replaced by one threshold and a
smaller sharpness. Measured on models/multilingual/data/topics_eval.csv (60 hand-written
support sentences, 14 topics + off-topic, German, Portuguese, Spanish, French): the threshold
0.87 was chosen on the German and Portuguese half (best F1); on the Spanish and French half
top-1 accuracy is 0.79 (forced choice among the taxonomy's topics), precision 0.67, recall
0.86, and no off-topic sentence got a topic. Short single-topic sentences: expect less on
real messages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.multilingual.onnx_encoder import OnnxE5Encoder, shared_encoder
from models.topics.assign import TopicAssigner
from models.topics.competitors import CompetitorMatcher
from models.topics.taxonomy import Taxonomy

ZERO_SHOT_THRESHOLD = 0.87
ZERO_SHOT_SHARPNESS = 0.01


class ZeroShotTopicAssigner(TopicAssigner):
    """TopicAssigner over e5 embeddings with one e5-calibrated threshold for every topic."""

    def __init__(
        self,
        encoder: OnnxE5Encoder,
        taxonomy: Taxonomy,
        *,
        competitors: CompetitorMatcher | None = None,
        competitors_version: str = "",
        threshold: float = ZERO_SHOT_THRESHOLD,
        sharpness: float = ZERO_SHOT_SHARPNESS,
    ) -> None:
        super().__init__(
            encoder,
            taxonomy,
            competitors=competitors,
            competitors_version=competitors_version,
            margin=0.01,
            sharpness=sharpness,
        )
        self.thresholds = np.full(len(self.keys), threshold)
        self.version = f"{self.version}-zs{threshold:.2f}"


_CACHE: dict[tuple[str, str], ZeroShotTopicAssigner] = {}
_CACHE_LOCK = threading.Lock()


def zero_shot_for(english: TopicAssigner, encoder: OnnxE5Encoder | None = None) -> TopicAssigner:
    """The zero-shot assigner for the English assigner's taxonomy and competitor list (kept
    per taxonomy, so a worker builds it once per taxonomy version)."""
    encoder = encoder or shared_encoder()
    key = (english.taxonomy.sha256(), english.version)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = ZeroShotTopicAssigner(
                encoder,
                english.taxonomy,
                competitors=english.competitors,
                competitors_version=english.version,
            )
        return _CACHE[key]


@dataclass(frozen=True)
class ZeroShotResult:
    """Accuracy of zero-shot topics on labelled sentences."""

    n: int
    top1_accuracy: float
    precision: float
    recall: float
    none_false_positive_rate: float


def evaluate_zero_shot(
    assigner: TopicAssigner, texts: Sequence[str], topics: Sequence[str]
) -> ZeroShotResult:
    """Top-1 accuracy over sentences that have a topic (forced choice among the taxonomy's
    topics), and precision/recall of the thresholded assignment ('none': no topic expected)."""
    embeddings = assigner.embed(list(texts))
    similarity = assigner.similarities(embeddings)
    assigned = assigner.assign_sentences(embeddings)
    topical = [i for i, topic in enumerate(topics) if topic != "none"]
    top1 = [assigner.keys[int(np.argmax(similarity[i]))] == topics[i] for i in topical]
    found = sum(len(a) for a in assigned)
    correct = sum(any(t.topic == topics[i] for t in assigned[i]) for i in topical)
    none = [i for i, topic in enumerate(topics) if topic == "none"]
    return ZeroShotResult(
        n=len(texts),
        top1_accuracy=round(float(np.mean(top1)) if top1 else 0.0, 3),
        precision=round(correct / found, 3) if found else 0.0,
        recall=round(correct / len(topical), 3) if topical else 0.0,
        none_false_positive_rate=round(
            float(np.mean([bool(assigned[i]) for i in none])) if none else 0.0, 3
        ),
    )


EVAL_FILE = Path(__file__).resolve().parent / "data" / "topics_eval.csv"


def main() -> None:
    """Print zero-shot accuracy on EVAL_FILE per language group:
    `python -m models.multilingual.topics`."""
    import csv
    import json
    from dataclasses import asdict

    from models.topics.taxonomy import load_taxonomy

    with EVAL_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assigner = ZeroShotTopicAssigner(shared_encoder(), load_taxonomy())
    report = {}
    for name, languages in (("de+pt", {"de", "pt"}), ("es+fr", {"es", "fr"}), ("all", None)):
        chosen = [r for r in rows if languages is None or r["language"] in languages]
        result = evaluate_zero_shot(
            assigner, [r["text"] for r in chosen], [r["topic"] for r in chosen]
        )
        report[name] = asdict(result)
    print(json.dumps({"threshold": ZERO_SHOT_THRESHOLD, **report}, indent=1))


if __name__ == "__main__":
    main()
