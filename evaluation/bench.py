"""Speed benchmark: the Hugging Face `pipeline` (torch fp32) vs the project's fast path
(int8 ONNX Runtime, length bucketing, dynamic padding) on the same fine-tuned model.

Prints one JSON object: {"pipeline": {...}, "fast": {...}, "message_path": {...},
"message_path_with_topics": {...}, "ratio": ..., "topic_overhead": ..., "topics_vs_fast": ...,
"message_vs_fast": ..., "load_average_1m": [start, end]}.
Run: `sentiment-service bench sentiment [--data FILE.csv]` or `python -m evaluation.bench`.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_service.sample_loader import SAMPLE_DIR

BATCH_SIZE = 32
LATENCY_SAMPLES = 200


@dataclass(frozen=True)
class Corpus:
    """Texts to score and a description of where they came from."""

    texts: list[str]
    description: str


def _email_thread(messages: list[dict[str, Any]]) -> str:
    """A ticket thread as the last email of it: newest text, then the history quoted."""
    newest, *older = sorted(messages, key=lambda m: m["created_at"], reverse=True)
    parts = [newest["text"]]
    for message in older:
        quoted = "\n".join(f"> {line}" for line in message["text"].splitlines())
        parts.append(f"On {message['created_at']} {message['author_role']} wrote:\n{quoted}")
    return "\n\n".join(parts)


def sample_corpus(per_kind: int = 200) -> Corpus:
    """A fixed mix from the bundled sample data: short chats, medium tickets, long emails
    (ticket threads written out as the last email with the earlier ones quoted)."""
    with (SAMPLE_DIR / "messages.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    customer = [row for row in rows if row["author_role"] in ("customer", "csm")]
    chats = [r["text"] for r in customer if r["source"] in ("chat", "social")]
    medium = [r["text"] for r in customer if r["source"] in ("ticket", "survey", "csm_note")]
    threads: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["source"] == "ticket" and row["thread_id"]:
            threads.setdefault(row["thread_id"], []).append(row)
    long = [_email_thread(thread) for thread in threads.values() if len(thread) >= 3]
    picked = chats[:per_kind] + medium[:per_kind] + long[:per_kind]
    counts = (min(per_kind, len(chats)), min(per_kind, len(medium)), min(per_kind, len(long)))
    description = "sample data: {} short chats, {} medium tickets, {} long emails"
    return Corpus(picked, description.format(*counts))


def file_corpus(path: Path) -> Corpus:
    """Texts from the `text` column of a CSV file."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise SystemExit(f"error: {path} has no 'text' column (found {reader.fieldnames})")
        texts = [row["text"] for row in reader if row["text"]]
    return Corpus(texts, f"{path.name}: {len(texts)} texts")


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> None:
    """Make VmHWM (peak RSS) start again from the current RSS (Linux)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def measure(
    name: str,
    load: Callable[[], Callable[[list[str]], Any]],
    texts: list[str],
    token_counts: Sequence[int],
) -> dict[str, Any]:
    """Load a path, score the whole corpus in one call (each path batches it its own way: the
    pipeline with batch_size=32 in input order, the fast path sorted by length), then time
    single messages; track peak RSS."""
    gc.collect()
    _reset_peak_rss()
    before = _rss_mb("VmRSS")
    started = time.perf_counter()
    score = load()
    load_s = time.perf_counter() - started
    score(texts[:BATCH_SIZE])  # warm-up
    started = time.perf_counter()
    score(texts)
    elapsed = time.perf_counter() - started
    latencies = []
    for text in texts[:: max(1, len(texts) // LATENCY_SAMPLES)][:LATENCY_SAMPLES]:
        single = time.perf_counter()
        score([text])
        latencies.append((time.perf_counter() - single) * 1000)
    latencies.sort()
    result = {
        "texts_per_s": round(len(texts) / elapsed, 1),
        "tokens_per_s": round(sum(token_counts) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
        "peak_rss_mb": round(_rss_mb("VmHWM"), 1),
        "rss_growth_mb": round(_rss_mb("VmHWM") - before, 1),
        "load_s": round(load_s, 2),
    }
    print(f"{name}: {result}", file=sys.stderr)
    del score
    gc.collect()
    return result


def _pipeline_path(artifact_dir: Path | None, threads: int) -> Callable[[list[str]], Any]:
    import torch
    from transformers import pipeline

    from models.sentiment.hf import load_hf_classifier

    torch.set_num_threads(threads)
    model, tokenizer, max_length = load_hf_classifier(artifact_dir)
    classifier = pipeline(
        "text-classification", model=model, tokenizer=tokenizer, device=-1, batch_size=BATCH_SIZE
    )

    def score(texts: list[str]) -> Any:
        with torch.inference_mode():
            return classifier(texts, truncation=True, max_length=max_length)

    return score


def run(corpus: Corpus, *, threads: int = 2, artifact_dir: Path | None = None) -> dict[str, Any]:
    """Both paths (plus the full message path) over one corpus, in this process."""
    from models.message_sentiment import MessageSentimentScorer
    from models.minilm import MiniLMBackend
    from models.sentences import SentenceSplitter

    load_before = os.getloadavg()[0]
    counter = MiniLMBackend(artifact_dir, threads=threads)
    tokens = [min(count, counter.max_length) for count in counter.token_counts(corpus.texts)]
    del counter
    pipeline_result = measure(
        "pipeline", lambda: _pipeline_path(artifact_dir, threads), corpus.texts, tokens
    )
    fast_result = measure(
        "fast",
        lambda: MiniLMBackend(artifact_dir, threads=threads).predict_proba,
        corpus.texts,
        tokens,
    )
    message_result = measure(
        "message_path",
        lambda: (
            MessageSentimentScorer(
                MiniLMBackend(artifact_dir, threads=threads), SentenceSplitter()
            ).score
        ),
        corpus.texts,
        tokens,
    )
    topics_result = measure(
        "message_path_with_topics",
        lambda: _with_topics(artifact_dir, threads),
        corpus.texts,
        tokens,
    )
    return {
        "corpus": corpus.description,
        "n_texts": len(corpus.texts),
        "mean_tokens": round(sum(tokens) / max(len(tokens), 1), 1),
        "threads": threads,
        "batch_size": BATCH_SIZE,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu(s), {platform.python_version()}",
        # 1-minute load average when the run started and ended (other work skews the figures).
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "pipeline": pipeline_result,
        "fast": fast_result,
        "message_path": message_result,
        "message_path_with_topics": topics_result,
        "ratio": round(fast_result["texts_per_s"] / pipeline_result["texts_per_s"], 2),
        # Extra time per message that topics and competitor mentions add to sentiment.
        "topic_overhead": round(
            message_result["texts_per_s"] / topics_result["texts_per_s"] - 1.0, 3
        ),
        # Throughput of the message path with topics as a share of the bare fast path (#19).
        "topics_vs_fast": round(topics_result["texts_per_s"] / fast_result["texts_per_s"], 3),
        "message_vs_fast": round(message_result["texts_per_s"] / fast_result["texts_per_s"], 3),
    }


def _with_topics(artifact_dir: Path | None, threads: int) -> Callable[[list[str]], Any]:
    """The worker's model path: sentiment, then topics and competitors on the same sentences."""
    from models.message_sentiment import MessageSentimentScorer
    from models.minilm import MiniLMBackend
    from models.sentences import SentenceSplitter
    from models.topics.assign import TopicAssigner
    from models.topics.competitors import CompetitorMatcher
    from models.topics.encoder import load_sentence_encoder
    from models.topics.taxonomy import load_taxonomy

    scorer = MessageSentimentScorer(
        MiniLMBackend(artifact_dir, threads=threads), SentenceSplitter()
    )
    encoder = load_sentence_encoder(threads=threads)
    assigner = TopicAssigner(encoder, load_taxonomy(), competitors=CompetitorMatcher.from_yaml())

    def score(texts: list[str]) -> Any:
        # Cold cache on every call: the warm-up and the latency samples reuse corpus texts,
        # and a cache hit would time a lookup instead of the encoder.
        encoder.cache.clear()
        return assigner.assign(scorer.score(texts))

    return score


def _with_shared_topics(artifact_dir: Path | None, threads: int) -> Callable[[list[str]], Any]:
    """Topics from the sentiment pass itself (models/topics/shared.py): one model run."""
    from models.message_sentiment import MessageSentimentScorer
    from models.sentences import SentenceSplitter
    from models.topics.assign import TopicAssigner
    from models.topics.competitors import CompetitorMatcher
    from models.topics.encoder import load_sentence_encoder
    from models.topics.shared import SharedSentimentPass
    from models.topics.taxonomy import load_taxonomy

    shared = SharedSentimentPass(artifact_dir, threads=threads)
    scorer = MessageSentimentScorer(shared, SentenceSplitter())
    assigner = TopicAssigner(
        shared.topic_encoder,
        load_taxonomy(),
        competitors=CompetitorMatcher.from_yaml(),
        phrase_encoder=load_sentence_encoder(threads=threads, cache_size=0),
    )

    def score(texts: list[str]) -> Any:
        shared.cache.clear()  # cold, as in _with_topics
        return assigner.assign(scorer.score(texts))

    return score


PATHS: dict[str, Callable[[Path | None, int], Callable[[list[str]], Any]]] = {
    "fast": lambda artifact_dir, threads: _fast(artifact_dir, threads),
    "message_path": lambda artifact_dir, threads: _message(artifact_dir, threads),
    "message_path_with_topics": _with_topics,
    "message_path_with_shared_topics": _with_shared_topics,
}


def _fast(artifact_dir: Path | None, threads: int) -> Callable[[list[str]], Any]:
    from models.minilm import MiniLMBackend

    return MiniLMBackend(artifact_dir, threads=threads).predict_proba


def _message(artifact_dir: Path | None, threads: int) -> Callable[[list[str]], Any]:
    from models.message_sentiment import MessageSentimentScorer
    from models.minilm import MiniLMBackend
    from models.sentences import SentenceSplitter

    return MessageSentimentScorer(
        MiniLMBackend(artifact_dir, threads=threads), SentenceSplitter()
    ).score


def interleaved(
    corpus: Corpus, *, rounds: int = 5, threads: int = 2, artifact_dir: Path | None = None
) -> dict[str, Any]:
    """Throughput of the fast path and the message paths, timed in turn for `rounds` rounds.

    On a shared machine the load moves within seconds; timing the paths one after the other
    in every round and taking medians (and the median of the per-round ratios to the fast
    path) keeps the comparison fairer than the sequential `run`; the CPU seconds per pass
    (`vs_fast_cpu`) are what other processes disturb least.
    """
    scorers = {name: load(artifact_dir, threads) for name, load in PATHS.items()}
    for score in scorers.values():
        score(corpus.texts[:BATCH_SIZE])  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in scorers}
    cpu: dict[str, list[float]] = {name: [] for name in scorers}
    loads = [os.getloadavg()[0]]
    for _ in range(rounds):
        for name, score in scorers.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            score(corpus.texts)
            timings[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
        loads.append(os.getloadavg()[0])
    n = len(corpus.texts)
    return {
        "corpus": corpus.description,
        "n_texts": n,
        "threads": threads,
        "rounds": rounds,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu(s), {platform.python_version()}",
        "load_average_1m": [round(value, 2) for value in loads],
        "texts_per_s": {
            name: round(n / statistics.median(values), 1) for name, values in timings.items()
        },
        "vs_fast": {
            name: round(
                statistics.median(
                    fast / mine for fast, mine in zip(timings["fast"], values, strict=True)
                ),
                3,
            )
            for name, values in timings.items()
            if name != "fast"
        },
        # CPU seconds of this process per pass: what other processes' load disturbs least.
        "cpu_s": {name: round(statistics.median(values), 2) for name, values in cpu.items()},
        "vs_fast_cpu": {
            name: round(statistics.median(cpu["fast"]) / statistics.median(values), 3)
            for name, values in cpu.items()
            if name != "fast"
        },
    }


def main(data: Path | None = None, threads: int = 2) -> None:
    """Run the benchmark and print its JSON to stdout (progress goes to stderr)."""
    corpus = file_corpus(data) if data else sample_corpus()
    print(json.dumps(run(corpus, threads=threads)))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None, help="CSV with a text column")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="time the fast and message paths in turn for N rounds (medians) instead",
    )
    arguments = parser.parse_args()
    if arguments.rounds:
        chosen = file_corpus(arguments.data) if arguments.data else sample_corpus()
        print(json.dumps(interleaved(chosen, rounds=arguments.rounds, threads=arguments.threads)))
    else:
        main(arguments.data, arguments.threads)


UMSAB_LANGUAGES = {
    "arabic": "ar",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}


@dataclass(frozen=True)
class LanguageCorpus:
    """Texts with their languages and a description of where they came from."""

    texts: list[str]
    languages: list[str]
    description: str


def multilingual_corpus(data_dir: Path, per_language: int = 100) -> LanguageCorpus:
    """The first `per_language` validation tweets of each non-English UMSAB language."""
    texts: list[str] = []
    languages: list[str] = []
    root = data_dir / "umsab-multilingual"
    for folder, code in UMSAB_LANGUAGES.items():
        path = root / folder / "val.csv"
        if not path.is_file():
            raise SystemExit(f"error: {path} not found (--data-dir points at the shared data)")
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [row["text"] for row in csv.DictReader(handle) if row["text"]][:per_language]
        texts.extend(rows)
        languages.extend([code] * len(rows))
    description = f"UMSAB validation: {per_language} tweets x {len(UMSAB_LANGUAGES)} languages"
    return LanguageCorpus(texts, languages, description)


def run_multilingual(corpus: LanguageCorpus, *, threads: int = 2) -> dict[str, Any]:
    """The multilingual model on whole texts, and the routed message path, over one corpus."""
    from models.message_sentiment import MessageSentimentScorer
    from models.minilm import MiniLMBackend
    from models.multilingual.model import MultilingualSentimentModel
    from models.multilingual.routing import RoutedScorer
    from models.sentences import SentenceSplitter

    counter = MultilingualSentimentModel(threads=threads)
    tokens = [min(c, counter.max_length) for c in counter.token_counts(corpus.texts)]
    by_text = dict(zip(corpus.texts, corpus.languages, strict=True))
    raw = measure("multilingual_raw", lambda: counter.predict_proba, corpus.texts, tokens)

    def routed() -> Callable[[list[str]], Any]:
        english = MessageSentimentScorer(MiniLMBackend(threads=threads), SentenceSplitter())
        scorer = RoutedScorer(english, counter)
        return lambda texts: scorer.score(texts, [by_text[t] for t in texts])

    message = measure("multilingual_message_path", routed, corpus.texts, tokens)
    return {
        "corpus": corpus.description,
        "n_texts": len(corpus.texts),
        "mean_tokens": round(sum(tokens) / max(len(tokens), 1), 1),
        "threads": threads,
        "model_version": counter.version,
        "encoder": counter.encoder.version,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu(s), {platform.python_version()}",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "multilingual_raw": raw,
        "multilingual_message_path": message,
    }


def multilingual_main(data_dir: Path, threads: int = 2, per_language: int = 100) -> None:
    """Run the multilingual benchmark and print its JSON to stdout."""
    corpus = multilingual_corpus(data_dir, per_language)
    print(json.dumps(run_multilingual(corpus, threads=threads)))
