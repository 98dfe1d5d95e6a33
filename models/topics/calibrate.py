"""Per-topic threshold calibration on a labelled sample (text + ';'-separated topic keys).

For each topic, a message's similarity is its best sentence's similarity (assign.py, rule 2).
The threshold that maximises the topic's F1 on the sample is shrunk towards the taxonomy
default in proportion to how few positives the topic has:
    threshold = (n * best + PRIOR * default) / (n + PRIOR),  PRIOR = 5 messages,
so a topic seen twice barely moves while a well-supported topic gets its own boundary.

The command-line tool that runs it on a labelled file is `python -m tools.calibrate_topics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from models.topics.assign import TopicAssigner
from models.topics.taxonomy import Taxonomy

PRIOR = 5.0
GRID = np.round(np.arange(0.20, 0.70, 0.01), 2)


def message_similarities(assigner: TopicAssigner, sentences: Sequence[Sequence[str]]) -> np.ndarray:
    """(messages, topics): the best sentence similarity of each message to each topic."""
    flat = [text for group in sentences for text in group]
    similarity = assigner.similarities(assigner.encoder.encode(flat))
    best = np.full((len(sentences), len(assigner.keys)), -1.0)
    offset = 0
    for row, group in enumerate(sentences):
        if group:
            best[row] = similarity[offset : offset + len(group)].max(axis=0)
        offset += len(group)
    return best


def best_threshold(similarity: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of `similarity >= threshold` against boolean `gold`."""
    best = (float(GRID[0]), -1.0)
    for threshold in GRID:
        predicted = similarity >= threshold
        true_positive = int((predicted & gold).sum())
        wrong = int((predicted ^ gold).sum())
        f1 = 2 * true_positive / (2 * true_positive + wrong) if true_positive else 0.0
        if f1 > best[1]:
            best = (float(threshold), f1)
    return best


def calibrate(
    assigner: TopicAssigner, sentences: Sequence[Sequence[str]], topic_sets: Sequence[set[str]]
) -> dict[str, float]:
    """Calibrated threshold per topic that has at least one positive in the sample."""
    similarity = message_similarities(assigner, sentences)
    default = assigner.taxonomy.default_threshold
    thresholds: dict[str, float] = {}
    for index, key in enumerate(assigner.keys):
        gold = np.array([key in topics for topics in topic_sets])
        positives = int(gold.sum())
        if positives == 0:
            continue
        threshold, _ = best_threshold(similarity[:, index], gold)
        thresholds[key] = round((positives * threshold + PRIOR * default) / (positives + PRIOR), 3)
    return thresholds


def with_thresholds(taxonomy: Taxonomy, thresholds: dict[str, float]) -> Taxonomy:
    """A copy of the taxonomy with the given base-topic thresholds."""
    topics = tuple(
        topic.model_copy(update={"threshold": thresholds.get(topic.key, topic.threshold)})
        for topic in taxonomy.topics
    )
    return taxonomy.model_copy(update={"topics": topics})


def write_taxonomy(taxonomy: Taxonomy, path: Path, header: str) -> None:
    """Write the taxonomy as YAML, keeping the leading comment block of the old file."""
    body = yaml.safe_dump(
        taxonomy.model_dump(mode="json", exclude_none=True), sort_keys=False, width=100
    )
    path.write_text(header + body, encoding="utf-8")
