"""`sentiment-service evaluate-topics`: the topic model against labelled topics.

The file has a text column and a topic column of ';'-separated taxonomy keys (may be empty).
Prints one JSON object: n, micro/macro precision-recall-F1, exact match, per topic P/R/F1 and
support, the topic model version and the dataset's sha256. Messages are scored exactly as the
worker does (sentences, clauses, competitor matcher).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from evaluation.datasets import DatasetError, read_table, require_column
from evaluation.topics import parse_topics, topic_metrics


def evaluate_topics_command(
    data: Annotated[Path, typer.Option("--data", help="Labelled file: .csv, .jsonl or .parquet")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the text")] = "text",
    topic_col: Annotated[
        str, typer.Option("--topic-col", help="Column with ';'-separated topic keys")
    ] = "topics",
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", help="Taxonomy YAML [default: the shipped one]")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="First N rows only")] = None,
    shared_pass: Annotated[
        bool,
        typer.Option(
            "--shared-pass",
            help="Sentence embeddings from the sentiment model's own pass (topics/shared.py)",
        ),
    ] = False,
) -> None:
    """Measure topic assignment against your own labelled messages."""
    from models.minilm import MessageLevelBackend
    from models.topics.assign import TopicAssigner
    from models.topics.competitors import CompetitorMatcher
    from models.topics.encoder import load_sentence_encoder
    from models.topics.taxonomy import load_taxonomy

    try:
        table, sha256 = read_table(data)
        require_column(table, text_col, "--text-col", data)
        require_column(table, topic_col, "--topic-col", data)
        rows = table.rows[:limit] if limit else table.rows
        if not rows:
            raise DatasetError(f"{data}: no rows")
        chosen = load_taxonomy(taxonomy)
    except (DatasetError, ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    gold = [parse_topics(row.get(topic_col)) for row in rows]
    known = {topic.key for topic in chosen.all_topics()}
    unknown = sorted(set().union(*gold) - known)
    if unknown:
        typer.echo(f"error: topics not in the taxonomy: {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    print(f"scoring {len(rows)} messages ...", file=sys.stderr)
    texts = [str(row.get(text_col) or "") for row in rows]
    if shared_pass:
        from models.message_sentiment import MessageSentimentScorer
        from models.sentences import SentenceSplitter
        from models.topics.shared import SharedSentimentPass

        shared = SharedSentimentPass()
        scored = MessageSentimentScorer(shared, SentenceSplitter()).score(texts)
        assigner = TopicAssigner(
            shared.topic_encoder,
            chosen,
            competitors=CompetitorMatcher.from_yaml(),
            phrase_encoder=load_sentence_encoder(cache_size=0),
        )
    else:
        scored = MessageLevelBackend().scorer.score(texts)
        assigner = TopicAssigner(
            load_sentence_encoder(), chosen, competitors=CompetitorMatcher.from_yaml()
        )
    predicted = [{f.topic for f in found.topics} for found in assigner.assign(scored)]
    base = {topic.key for topic in chosen.topics}  # segment topics only when labelled
    metrics = topic_metrics(gold, predicted, base | set().union(*gold))
    output = {
        **metrics,
        "model_version": assigner.version,
        "dataset_sha256": sha256,
        "data": str(data),
    }
    print(json.dumps(output, indent=2))
