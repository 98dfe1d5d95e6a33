"""Per-topic threshold calibration on a labelled file (text + ';'-separated topic keys); the
rules are in models/topics/calibrate.py.

    python -m tools.calibrate_topics --data sentiment_service/sample_data/labelled_messages.csv \
        --half even --out models/topics/default_taxonomy.yaml
"""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from evaluation.datasets import read_table
from evaluation.topics import parse_topics
from models.minilm import MessageLevelBackend
from models.topics.assign import TopicAssigner
from models.topics.calibrate import calibrate, with_thresholds, write_taxonomy
from models.topics.encoder import load_sentence_encoder
from models.topics.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy


def main(
    data: Path = typer.Option(..., help="CSV with text and topics columns"),
    taxonomy_path: Path = typer.Option(DEFAULT_TAXONOMY_PATH),
    out: Path = typer.Option(..., help="where to write the calibrated taxonomy"),
    half: str = typer.Option("all", help="all | even | odd rows (hold the other half out)"),
    text_col: str = "text",
    topic_col: str = "topics",
) -> None:
    """Calibrate topic thresholds on a labelled sample and write the taxonomy."""
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
