"""Per-topic threshold calibration on a labelled sample (text + ';'-separated topic keys).

For each topic, a message's similarity is its best sentence's similarity (assign.py, rule 2).
The threshold that maximises the topic's F1 on the sample is shrunk towards the taxonomy
default in proportion to how few positives the topic has:
    threshold = (n * best + PRIOR * default) / (n + PRIOR),  PRIOR = 5 messages,
so a topic seen twice barely moves while a well-supported topic gets its own boundary.

    python -m models.topics.calibrate --data sentiment_service/sample_data/labelled_messages.csv \
        --half even --out models/topics/default_taxonomy.yaml
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import typer
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


def main(
    data: Path = typer.Option(..., help="CSV with text and topics columns"),
    taxonomy_path: Path = typer.Option(Path(__file__).with_name("default_taxonomy.yaml")),
    out: Path = typer.Option(..., help="where to write the calibrated taxonomy"),
    half: str = typer.Option("all", help="all | even | odd rows (hold the other half out)"),
    text_col: str = "text",
    topic_col: str = "topics",
) -> None:
    """Calibrate topic thresholds on a labelled sample and write the taxonomy."""
    from evaluation.datasets import read_table
    from evaluation.topics import parse_topics
    from models.minilm import MessageLevelBackend
    from models.topics.encoder import load_sentence_encoder
    from models.topics.taxonomy import load_taxonomy

    table, _ = read_table(data)
    rows = [
        r for i, r in enumerate(table.rows) if half == "all" or (i % 2 == 0) == (half == "even")
    ]
    taxonomy = load_taxonomy(taxonomy_path)
    assigner = TopicAssigner(load_sentence_encoder(), taxonomy)
    scored = MessageLevelBackend().scorer.score([str(r[text_col]) for r in rows])
    sentences = [[s.text for s in message.sentences] for message in scored]
    thresholds = calibrate(assigner, sentences, [parse_topics(r.get(topic_col)) for r in rows])
    header = "".join(
        line
        for line in taxonomy_path.read_text(encoding="utf-8").splitlines(keepends=True)
        if line.startswith("#")
    )
    write_taxonomy(with_thresholds(taxonomy, thresholds), out, header + "\n")
    typer.echo(yaml.safe_dump({"rows": len(rows), "thresholds": thresholds}), err=True)


if __name__ == "__main__":
    typer.run(main)
