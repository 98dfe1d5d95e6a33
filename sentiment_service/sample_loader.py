"""Loads the bundled sample dataset through the same ingestion path the API uses."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from connectors.base import SyncEngine, SyncOptions
from connectors.transcripts import TranscriptConnector, TranscriptOptions
from pipelines.ingest import Ingestor, IngestPolicy
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.storage.database import Database

SAMPLE_DIR = Path(__file__).parent / "sample_data"
BATCH = 500
MULTILINGUAL_FILE = "messages_multilingual.jsonl"  # see _extra_messages
# The sample calls (sample_data/transcripts) are with Cobalt Ridge Health (acct-002). Lumenly
# staff speak from lumenly.example; the WebVTT file has names only, hence the speaker map.
SAMPLE_TRANSCRIPTS = TranscriptOptions(
    agent_domains=("lumenly.example",),
    speakers={
        "Isabel Garcia": "isabel.garcia@cobalt-ridge-health.example",
        "Priya Shah": "priya.shah@lumenly.example",
        "Marcus Oyelaran": "marcus.oyelaran@lumenly.example",
    },
)
SAMPLE_CALL_DOMAINS = {"cobalt-ridge-health.example": "acct-002"}


@dataclass
class LoadSummary:
    """Counts per record kind and status."""

    accounts: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, counts: dict[str, int]) -> None:
        """Add one batch's counts."""
        total = self.counts.setdefault(kind, {})
        for status, count in counts.items():
            total[status] = total.get(status, 0) + count


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _extra_messages(sample_dir: Path) -> list[dict[str, Any]]:
    """Hand-written messages kept apart from the generated file: the non-English demo
    (German, Brazilian Portuguese, French, Spanish; metadata.sample = multilingual-demo)."""
    path = sample_dir / MULTILINGUAL_FILE
    return _read_jsonl(path) if path.is_file() else []


def load_sample_data(
    database: Database, policy: IngestPolicy, *, sample_dir: Path = SAMPLE_DIR
) -> LoadSummary:
    """Store accounts, messages, metrics, outcomes and call transcripts from `sample_dir`
    (idempotent)."""
    summary = LoadSummary()
    actor = "sample-loader"
    with database.session() as session:
        for raw in json.loads((sample_dir / "accounts.json").read_text(encoding="utf-8")):
            account_id = raw.pop("id")
            upsert_account(session, account_id, AccountIn.model_validate(raw), actor=actor)
            summary.accounts += 1
    batches: list[tuple[str, list[dict[str, Any]]]] = [
        ("message", _read_jsonl(sample_dir / "messages.jsonl") + _extra_messages(sample_dir)),
        ("metric", _read_csv(sample_dir / "metrics.csv")),
        ("outcome", _read_csv(sample_dir / "outcomes.csv")),
    ]
    for kind, records in batches:
        for outcome in records if kind == "outcome" else []:
            outcome["notes"] = outcome.get("notes") or None
        for start in tqdm(range(0, len(records), BATCH), desc=f"loading {kind}s", unit="batch"):
            with database.session() as session:
                ingestor = Ingestor(session, policy, channel="sample", actor=actor)
                run = {
                    "message": ingestor.messages,
                    "metric": ingestor.metrics,
                    "outcome": ingestor.outcomes,
                }[kind]
                summary.add(kind, run(records[start : start + BATCH]).counts())
    load_sample_transcripts(database, policy, summary, sample_dir=sample_dir)
    return summary


def load_sample_transcripts(
    database: Database, policy: IngestPolicy, summary: LoadSummary, *, sample_dir: Path
) -> None:
    """Import the sample call transcripts through the transcript connector (idempotent: the
    utterance ids come from the files' hashes); counted under `call` in `summary`."""
    folder = sample_dir / "transcripts"
    if not folder.is_dir():
        return
    options = SyncOptions(domains=SAMPLE_CALL_DOMAINS, progress=False)
    connector = TranscriptConnector([folder], SAMPLE_TRANSCRIPTS)
    synced = SyncEngine(database, policy, options).run("sample-transcripts", connector)
    summary.add(
        "call",
        {
            "accepted": synced.stored,
            "flagged": synced.flagged_duplicates,
            "updated": synced.updated,
            "duplicate": synced.duplicates,
            "rejected": synced.quarantined,
        },
    )
