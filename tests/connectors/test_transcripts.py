"""Call transcripts: WebVTT, SRT and JSON parsing, speakers, merging, de-duplication by file
hash, bad files, account resolution and scoring of the `call` messages through the worker."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from connectors.config import TranscriptsConfig, load_config
from connectors.errors import ConfigError
from connectors.registry import build_connector
from connectors.transcript_formats import (
    TranscriptError,
    parse_json,
    parse_srt,
    parse_transcript,
    parse_vtt,
    start_from_file_name,
)
from connectors.transcripts import (
    SpeakerResolver,
    TranscriptConnector,
    TranscriptOptions,
    TranscriptReport,
    utterances,
)
from pipelines.features import account_features
from pipelines.ingest import IngestPolicy
from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.logs import configure_logging
from sentiment_service.model_hub import ModelHub
from sentiment_service.quarantine import replay_for_account
from sentiment_service.sample_loader import SAMPLE_DIR, LoadSummary, load_sample_transcripts
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, MessageScore, QuarantineRecord
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.connectors.conftest import engine, make_accounts, quarantine_codes, stored

OURS = ("lumenly.example",)

VTT = """WEBVTT - exported by a recorder
Kind: captions

NOTE the recorder adds notes
over two lines

STYLE
::cue { color: white }

intro
00:01.000 --> 00:04.000 align:start
<v.loud Dana Ruiz>Welcome to the call, everyone.</v>

00:00:04.500 --> 00:00:07.000
<v Sam Lee>Thanks. The sync keeps failing &amp; nobody told us.</v>

00:00:07.000 --> 00:00:09.000
<v Sam Lee>It has been <i>three</i> weeks.

00:00:09.500 --> 00:00:10.000
[inaudible]

00:00:10.000 --> 00:00:12.000
<v Dana Ruiz>Sorry about that.</v><v Sam Lee>Please fix it this week.</v>
"""

SRT = """1
00:00:01,000 --> 00:00:03,500
Dana Ruiz: Hello from support.

2
00:00:04,000 --> 00:00:06,000
SPEAKER_01: The export is still broken.
We lose a day every month.

3
00:00:06,000 --> 00:00:08,000
and it is getting worse.

4
00:00:09,000 --> 00:00:10,000
(laughs)

5
00:00:10,000 --> 00:00:12,000
The problem is: nobody answers.
"""


def call_json(customer: str = "sam@acme.example", **extra: Any) -> dict[str, Any]:
    """A recorder export: metadata, participants and utterances (one speaker email inline)."""
    return {
        "title": "Acme weekly sync",
        "started_at": "2026-10-05T14:00:00Z",
        "participants": [
            {"name": "Dana Ruiz", "email": "dana@lumenly.example"},
            {"name": "Sam Lee", "email": customer},
        ],
        "utterances": [
            {"speaker": "Dana Ruiz", "text": "Hi Sam, how are things?", "start": 0.5, "end": 2},
            {"speaker": "Sam Lee", "text": "Not great.", "start": 2.5, "end": 3.0},
            {"speaker": "Sam Lee", "text": "Reports time out every morning.", "start": 3.2},
            {"speaker": "Dana Ruiz", "text": "[crosstalk]", "start": 6, "end": 6.5},
            {"speaker": "Sam Lee", "text": "We are losing patience.", "start": 7, "end": 9},
            {"speaker": "Dana Ruiz", "text": "Understood.", "start": "00:00:10.000"},
            {"speaker": "Ravi", "email": "ravi@acme.example", "text": "Thanks.", "start": 12},
        ],
        **extra,
    }


def write(path: Path, content: str | bytes | dict[str, Any] | list[Any]) -> Path:
    """Write text, bytes or JSON to `path` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def options(**overrides: Any) -> TranscriptOptions:
    """Our domain is lumenly.example; the VTT/SRT speakers have no emails, hence the map."""
    values: dict[str, Any] = {
        "agent_domains": OURS,
        "speakers": {"Dana Ruiz": "dana@lumenly.example", "Sam Lee": "sam@acme.example"},
    }
    return TranscriptOptions(**{**values, **overrides})


def calls(database: Database) -> list[dict[str, Any]]:
    """Stored call messages in call, then time, order."""
    rows = [m for m in stored(database).values() if m["source"] == "call"]
    return sorted(rows, key=lambda m: (m["thread"], m["created_at"], m["extra"]["start_seconds"]))


# --- parsing -----------------------------------------------------------------------------------


def test_vtt_voice_tags_notes_identifiers_and_noise() -> None:
    transcript = parse_vtt(VTT)
    turns, noise = utterances(transcript, 2000)
    assert [(t.speaker, t.text, t.start, t.end) for t in turns] == [
        ("Dana Ruiz", "Welcome to the call, everyone.", 1.0, 4.0),
        (
            "Sam Lee",
            "Thanks. The sync keeps failing & nobody told us. It has been three weeks.",
            4.5,
            9.0,
        ),
        ("Dana Ruiz", "Sorry about that.", 10.0, 12.0),
        ("Sam Lee", "Please fix it this week.", 10.0, 12.0),
    ]
    assert noise == 1


def test_srt_prefixes_continuations_and_colons_inside_sentences() -> None:
    turns, noise = utterances(parse_srt(SRT), 2000)
    assert [(t.speaker, t.text) for t in turns] == [
        ("Dana Ruiz", "Hello from support."),
        (
            "SPEAKER_01",
            "The export is still broken. We lose a day every month. and it is getting worse. "
            "The problem is: nobody answers.",
        ),
    ]
    assert noise == 1 and turns[1].start == 4.0 and turns[1].end == 12.0


def test_json_object_and_list_forms() -> None:
    transcript = parse_json(json.dumps(call_json()))
    assert transcript.title == "Acme weekly sync"
    assert transcript.started_at == datetime(2026, 10, 5, 14, tzinfo=UTC)
    assert [p.email for p in transcript.participants] == [
        "dana@lumenly.example",
        "sam@acme.example",
    ]
    turns, noise = utterances(transcript, 2000)
    assert [(t.speaker, t.text) for t in turns] == [
        ("Dana Ruiz", "Hi Sam, how are things?"),
        ("Sam Lee", "Not great. Reports time out every morning. We are losing patience."),
        ("Dana Ruiz", "Understood."),
        ("Ravi", "Thanks."),
    ]
    assert noise == 1 and turns[3].email == "ravi@acme.example"
    plain = [
        {"speaker": 0, "text": "First.", "start": 0},
        {"speaker": {"name": "Kim", "email": "kim@x.example"}, "text": "Second.", "start": 1},
        {"text": "Nobody.", "start": 2},
        {"text": "Nobody again.", "start": 3},
    ]
    turns, _ = utterances(parse_json(json.dumps(plain)), 2000)
    assert [(t.speaker, t.email, t.text) for t in turns] == [
        ("Speaker 0", None, "First."),
        ("Kim", "kim@x.example", "Second."),
        (None, None, "Nobody."),  # no speaker, no email: never merged with a neighbour
        (None, None, "Nobody again."),
    ]


def test_long_turns_are_split_at_the_cap() -> None:
    cues = [{"speaker": "A", "text": f"Sentence number {i}.", "start": i} for i in range(6)]
    turns, _ = utterances(parse_json(json.dumps(cues)), 40)
    assert [t.text for t in turns] == [
        "Sentence number 0. Sentence number 1.",
        "Sentence number 2. Sentence number 3.",
        "Sentence number 4. Sentence number 5.",
    ]
    assert all(len(t.text) <= 40 for t in turns)


@pytest.mark.parametrize(
    ("suffix", "text", "where", "message"),
    [
        (".vtt", "WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nhi\n", "line 3", "timing line"),
        (
            ".vtt",
            "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nok\n\n2\nhello\n",
            "line 8",
            "timing",
        ),
        (".vtt", "Hello\n\n00:01.000 --> 00:02.000\nhi\n", "line 1", "not a WebVTT file"),
        (".vtt", "WEBVTT\n00:00:01.000 --> 00:00:02.000\nhi\n", "line 2", "blank line"),
        (".vtt", "WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nhi\n", "line 3", "before it starts"),
        (".vtt", "WEBVTT\n\n00:00:61.000 --> 00:01:02.000\nhi\n", "line 3", "over 59"),
        (".vtt", "WEBVTT\n\nNOTE only a note\n", "line 1", "no cues"),
        (".srt", "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\nnot a time\n", "line 6", "timing"),
        (".srt", "one\ntwo\n", "line 1", "cue number or timing"),
        (".json", '{"utterances": [\n  {"text": "a", "start": 0},\n]}', "line 3", "not valid JSON"),
        (".json", '{"utterances": {"text": "a"}}', "utterances", "must be a list"),
        (".json", '[{"text": "a", "start": 0}, {"start": 1}]', "[1].text", "missing"),
        (".json", '[{"text": "a", "start": -1}]', "[0].start", ">= 0"),
        (".json", '[{"text": "a", "start": 5, "end": 4}]', "[0].end", "before it starts"),
        (".json", '[{"text": "a"}]', "[0].start", "missing"),
        (".json", '{"started_at": "yesterday", "utterances": []}', "started_at", "ISO-8601"),
        (".json", '"just a string"', "line 1", "list of utterances"),
        (".json", "[]", "line 1", "no cues"),
        (".txt", "hello", "line 1", "unsupported file type"),
    ],
)
def test_bad_files_name_the_line_or_item(suffix: str, text: str, where: str, message: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(suffix, text)
    assert caught.value.where.endswith(where) and message in caught.value.message


def test_zoom_file_names_carry_the_start() -> None:
    assert start_from_file_name("GMT20260826-150000_Recording.transcript.vtt") == datetime(
        2026, 8, 26, 15, tzinfo=UTC
    )
    assert start_from_file_name("GMT20261399-150000_x.vtt") is None  # month 13
    assert start_from_file_name("call.vtt") is None


# --- speakers ----------------------------------------------------------------------------------


def test_speaker_roles_by_domain_by_map_and_unknown() -> None:
    transcript = parse_json(json.dumps(call_json()))
    resolver = SpeakerResolver(
        TranscriptOptions(
            agent_domains=("Lumenly.example",),
            speakers={
                "ravi@acme.example": "csm",  # an email key: a partner CSM on the customer side
                "BOT Recorder": "bot",
                "Alex": "alex@eu.lumenly.example",
            },
        ),
        transcript,
    )
    assert resolver.resolve("Dana Ruiz", None).role == "agent"  # participant email, our domain
    assert resolver.resolve("sam lee", None) == resolver.resolve("Sam Lee", None)
    assert resolver.resolve("Sam Lee", None).role == "customer"
    assert resolver.resolve("Ravi", "Ravi@Acme.example").role == "csm"
    assert resolver.resolve("ravi", None).role == "csm"  # his email was on one utterance
    assert resolver.resolve("bot recorder", None).role == "bot"
    assert resolver.resolve("Alex", None).role == "agent"  # a subdomain of ours
    assert resolver.resolve("Stranger", None).role == "unknown"
    assert resolver.resolve(None, None).role == "unknown"
    assert resolver.resolve("Guest", "guest@lumenly.example.evil.test").role == "customer"
    csm = SpeakerResolver(TranscriptOptions(agent_domains=OURS, agent_role="csm"), transcript)
    assert csm.resolve("Dana Ruiz", None).role == "csm"
    with pytest.raises(ConfigError, match="neither an email nor a role"):
        TranscriptOptions(speakers={"Dana": "boss"})


# --- importing through the sync engine ---------------------------------------------------------


def test_each_format_imports_with_roles_times_and_threads(
    database: Database, tmp_path: Path
) -> None:
    make_accounts(database, {"acme": {"domain": "acme.example"}})
    write(tmp_path / "calls" / "weekly.json", call_json())
    write(tmp_path / "calls" / "GMT20261006-093000_Recording.transcript.vtt", VTT)
    srt = write(tmp_path / "calls" / "escalation.srt", SRT)
    os.utime(srt, (1_791_000_000, 1_791_000_000))  # 2026-10-03T04:00:00Z: the call's end
    write(tmp_path / "calls" / "notes.txt", "not a transcript")
    write(tmp_path / "calls" / ".hidden" / "old.vtt", "junk")
    report = TranscriptReport()
    connector = TranscriptConnector([tmp_path / "calls"], options(), report=report)
    summary = engine(database).run("calls", connector)
    # The SRT names nobody with an email: its account is unknown, so it is quarantined.
    assert (summary.stored, summary.quarantined, summary.skipped) == (8, 2, 3)
    assert summary.fetched == 13 and summary.unresolved_authors == 1  # fetched counts noise
    assert summary.quarantine_reasons == {"unresolved_account": 2}
    assert report.calls == 3 and report.noise_cues == 3 and report.unknown_speakers == 1
    assert report.start_from_mtime == 1 and report.bad_files == []
    assert report.ignored_files == [
        str(tmp_path / "calls" / ".hidden" / "old.vtt"),
        str(tmp_path / "calls" / "notes.txt"),
    ]
    assert quarantine_codes(database) == ["unresolved_account", "unresolved_account"]
    rows = calls(database)
    by_format: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_format.setdefault(row["extra"]["format"], []).append(row)
    assert [(m["role"], m["text"]) for m in by_format["json"]] == [
        ("agent", "Hi Sam, how are things?"),
        ("customer", "Not great. Reports time out every morning. We are losing patience."),
        ("agent", "Understood."),
        ("customer", "Thanks."),
    ]
    assert [m["created_at"].replace(tzinfo=UTC) for m in by_format["json"]] == [
        datetime(2026, 10, 5, 14, 0, 0, 500000, tzinfo=UTC),
        datetime(2026, 10, 5, 14, 0, 2, 500000, tzinfo=UTC),
        datetime(2026, 10, 5, 14, 0, 10, tzinfo=UTC),
        datetime(2026, 10, 5, 14, 0, 12, tzinfo=UTC),
    ]
    assert {m["extra"]["call_start_from"] for m in by_format["json"]} == {"file_metadata"}
    assert by_format["json"][0]["extra"]["call_title"] == "Acme weekly sync"
    vtt = by_format["vtt"]
    assert [m["role"] for m in vtt] == ["agent", "customer", "agent", "customer"]
    assert vtt[0]["created_at"].replace(tzinfo=UTC) == datetime(2026, 10, 6, 9, 30, 1, tzinfo=UTC)
    assert {m["extra"]["call_start_from"] for m in vtt} == {"file_name"}
    assert all(m["account"] == "acme" and m["system"] == "transcripts" for m in rows)
    threads = {m["thread"] for m in rows}
    assert len(threads) == 2 and all(t.startswith("call-") for t in threads)
    for thread in threads:
        ids = sorted(k for k, m in stored(database).items() if m["thread"] == thread)
        digest = thread.removeprefix("call-")
        assert ids == [f"{digest}:{i}" for i in range(len(ids))]
    with database.session() as session:
        held = session.exec(select(QuarantineRecord)).all()
    assert all(row.raw_payload["metadata"]["call_start_from"] == "file_mtime" for row in held)
    assert {row.raw_payload["created_at"] for row in held} == {
        "2026-10-03T03:59:49+00:00",
        "2026-10-03T03:59:52+00:00",
    }


def test_reimport_and_renamed_copies_store_nothing_twice(
    database: Database, tmp_path: Path
) -> None:
    make_accounts(database, {"acme": {"domain": "acme.example"}})
    folder = tmp_path / "calls"
    first_file = write(folder / "weekly.json", call_json())
    vtt = write(folder / "call.vtt", VTT)
    run = engine(database)
    first = run.run("calls", TranscriptConnector([folder], options(call_start=None)))
    assert first.stored == 8 and first.quarantined == 0
    before = stored(database)
    again = run.run("calls", TranscriptConnector([folder], options()))
    assert (again.stored, again.updated, again.duplicates) == (0, 0, 8)
    first_file.rename(folder / "renamed.json")  # same bytes, same mtime
    vtt.rename(folder / "moved.vtt")
    renamed = run.run("calls", TranscriptConnector([folder], options()))
    assert (renamed.stored, renamed.updated, renamed.duplicates) == (0, 0, 8)
    shutil.copyfile(folder / "renamed.json", tmp_path / "copy.json")  # new mtime, same bytes
    copied = run.run("calls", TranscriptConnector([tmp_path / "copy.json"], options()))
    assert (copied.stored, copied.updated, copied.duplicates) == (0, 0, 4)
    assert stored(database) == before
    # A copy of the VTT with another mtime re-dates its utterances (no start in the file):
    # the same messages are updated, none is added.
    shutil.copyfile(folder / "moved.vtt", tmp_path / "copy.vtt")
    os.utime(tmp_path / "copy.vtt", (1_790_000_000, 1_790_000_000))
    redated = run.run("calls", TranscriptConnector([tmp_path / "copy.vtt"], options()))
    assert (redated.stored, redated.updated) == (0, 4) and len(stored(database)) == 8


def test_a_long_call_imported_as_it_ends_is_not_in_the_future(
    database: Database, tmp_path: Path
) -> None:
    make_accounts(database, {"acme": {}})
    long_call = (
        "WEBVTT\n\n00:00:05.000 --> 00:00:09.000\nSam Lee: We start.\n\n"
        "01:29:55.000 --> 01:30:00.000\nDana Ruiz: And we end, ninety minutes later.\n"
    )
    path = write(tmp_path / "long.vtt", long_call)  # written just now, when the call ended
    summary = engine(database).run("calls", TranscriptConnector([path], options(account_id="acme")))
    assert (summary.stored, summary.quarantined) == (2, 0)
    first, last = calls(database)
    assert last["created_at"].replace(tzinfo=UTC) <= datetime.now(UTC)
    assert last["created_at"] - first["created_at"] == timedelta(minutes=89, seconds=50)


def test_distinct_calls_with_the_same_words_are_all_stored(
    database: Database, tmp_path: Path
) -> None:
    make_accounts(database, {"acme": {"domain": "acme.example"}})
    same = [
        {"speaker": "Sam Lee", "email": "sam@acme.example", "text": "Still broken.", "start": 0},
        {"speaker": "Dana Ruiz", "text": "Thanks for calling.", "start": 1},
        {"speaker": "Sam Lee", "text": "Still broken.", "start": 2},
    ]
    write(tmp_path / "a.json", {"started_at": "2026-10-01T10:00:00Z", "utterances": same})
    write(tmp_path / "b.json", {"started_at": "2026-10-02T10:00:00Z", "utterances": same})
    summary = engine(database).run(
        "calls", TranscriptConnector([tmp_path / "a.json", tmp_path / "b.json"], options())
    )
    assert summary.stored == 6 and len(calls(database)) == 6
    texts = [m["text"] for m in calls(database) if m["role"] == "customer"]
    assert texts == ["Still broken."] * 4


def test_bad_files_are_quarantined_and_the_rest_imports(database: Database, tmp_path: Path) -> None:
    make_accounts(database, {"acme": {"domain": "acme.example"}})
    folder = tmp_path / "export"
    write(folder / "good.json", call_json())
    write(folder / "bad-timing.vtt", "WEBVTT\n\n1\n00:00:01.000 -> 00:00:02.000\nhello\n")
    write(folder / "broken.json", '{"utterances": [\n  {"text": "a", "start": 0},\n]}')
    write(folder / "latin1.srt", "1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 ok\n".encode("latin-1"))
    write(folder / "empty.srt", "")
    write(folder / "no-text.json", [{"speaker": "A", "start": 0}])
    report = TranscriptReport()
    summary = engine(database).run("calls", TranscriptConnector([folder], options(), report=report))
    assert (summary.stored, summary.quarantined, summary.skipped, summary.fetched) == (4, 5, 1, 10)
    assert summary.quarantine_reasons == {"invalid_transcript": 5}
    assert summary.complete and len(calls(database)) == 4
    assert sorted(report.bad_files) == sorted(
        [
            f"{folder / 'bad-timing.vtt'}: line 4: expected a cue timing line 'start --> end'",
            f"{folder / 'broken.json'}: line 3: not valid JSON: Expecting value",
            f"{folder / 'latin1.srt'}: line 3: not UTF-8 text",
            f"{folder / 'empty.srt'}: line 1: no cues or utterances found",
            f"{folder / 'no-text.json'}: [0].text: missing or not a string",
        ]
    )
    with database.session() as session:
        held = session.exec(select(QuarantineRecord)).all()
    assert {(row.kind, row.reason_code, row.source) for row in held} == {
        ("transcript", "invalid_transcript", "call")
    }
    assert sorted(row.reason.split(":")[0] for row in held) == [
        "bad-timing.vtt",
        "broken.json",
        "empty.srt",
        "latin1.srt",
        "no-text.json",
    ]
    again = engine(database).run("calls", TranscriptConnector([folder], options()))
    assert (again.stored, again.duplicates, again.quarantined) == (0, 4, 5)
    assert len(quarantine_codes(database)) == 5  # the same bad file is held once


def test_account_by_option_and_replay_once_the_domain_is_known(
    database: Database, tmp_path: Path
) -> None:
    make_accounts(database, {"acme": {}, "other": {"domain": "other.example"}})
    path = write(tmp_path / "call.json", call_json(customer="sam@other.example"))
    explicit = engine(database).run(
        "calls", TranscriptConnector([path], options(account_id="acme"))
    )
    assert explicit.stored == 4 and {m["account"] for m in calls(database)} == {"acme"}
    unknown = write(tmp_path / "new.json", call_json(customer="kai@newco.example", title="New"))
    missing = engine(database).run(
        "calls", TranscriptConnector([unknown], options(account_id="ghost"))
    )
    assert missing.quarantined == 4 and missing.stored == 0  # only the named account is tried
    by_domain = engine(database).run("calls", TranscriptConnector([unknown], options()))
    assert by_domain.quarantined == 4
    with database.session() as session:
        held = session.exec(select(QuarantineRecord)).all()
        reasons = {row.reason for row in held}
    assert any("account:ghost" in reason for reason in reasons)
    assert any("domain:newco.example" in reason for reason in reasons)
    with database.session() as session:
        upsert_account(
            session,
            "newco",
            AccountIn(name="NewCo", external_ids={"domain": "newco.example"}),
            actor="test",
        )
        replayed = replay_for_account(session, IngestPolicy(), "newco", actor="test")
    assert replayed.stored == 4
    assert sorted(m["account"] for m in calls(database)) == ["acme"] * 4 + ["newco"] * 4


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI points the logs at the runner's stderr, which closes: back to the real one."""
    yield
    configure_logging()


def test_config_entry_and_cli(
    database: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    from connectors.cli import import_transcripts_command, sync_command

    make_accounts(database, {"acme": {}})
    write(tmp_path / "calls" / "c.vtt", VTT)
    config = tmp_path / "connectors.yaml"
    config.write_text(
        "connectors:\n"
        "  - name: calls\n"
        "    type: transcripts\n"
        "    paths: [calls]\n"
        "    agent_domains: [lumenly.example]\n"
        "    account_id: acme\n"
        "    call_start: 2026-10-07T08:00:00+02:00\n"
        "    speakers: {Dana Ruiz: agent, Sam Lee: customer}\n"
    )
    entry = load_config(config).get("calls")
    assert isinstance(entry, TranscriptsConfig) and entry.paths == [tmp_path / "calls"]
    assert type(build_connector(entry)).__name__ == "TranscriptConnector"
    bad = tmp_path / "bad.yaml"
    bad.write_text(config.read_text().replace("Sam Lee: customer", "Sam Lee: vip"))
    with pytest.raises(ConfigError, match="neither an email nor one of"):
        load_config(bad)
    import typer

    app = typer.Typer()
    app.command("sync")(sync_command)
    app.command("import-transcripts")(import_transcripts_command)
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["sync", "calls", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["stored"] == 4
    first = calls(database)[0]
    assert first["created_at"].replace(tzinfo=UTC) == datetime(2026, 10, 7, 6, 0, 1, tzinfo=UTC)
    write(tmp_path / "more" / "weekly.json", call_json())
    write(tmp_path / "more" / "broken.srt", "1\nnot a time\n")
    args = [
        "import-transcripts",
        str(tmp_path / "more"),
        "--agent-domain",
        "lumenly.example",
        "--speaker",
        "Ravi=csm",
        "--domain",
        "acme.example=acme",
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert f"error: {tmp_path / 'more' / 'broken.srt'}: line 2: expected" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["stored"], summary["duplicates"], summary["quarantined"]) == (4, 0, 1)
    assert summary["transcripts"]["bad_files"][0].endswith(
        "line 2: expected a cue timing line 'start --> end'"
    )
    roles = {m["text"]: m["role"] for m in calls(database)}
    assert roles["Thanks."] == "csm"
    # Without the speaker map the VTT's names have no emails: same messages, roles now unknown
    # (updated, not stored again), counted as unresolved authors.
    again = CliRunner().invoke(
        app, ["import-transcripts", str(tmp_path / "calls"), "--account", "acme", "--no-progress"]
    )
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert (summary["stored"], summary["updated"], summary["unresolved_authors"]) == (0, 4, 4)
    assert summary["transcripts"]["unknown_speakers"] == 2 and len(calls(database)) == 8
    usage = CliRunner().invoke(app, [*args[:2], "--speaker", "no-equals-sign"])
    assert usage.exit_code == 2 and "KEY=VALUE" in usage.output
    when = CliRunner().invoke(app, [*args[:2], "--call-start", "tomorrow"])
    assert when.exit_code == 2 and "ISO-8601" in when.output


def test_sample_transcripts_load_into_cobalt_ridge(database: Database) -> None:
    make_accounts(database, {"acct-002": {}})
    summary = LoadSummary()
    load_sample_transcripts(database, IngestPolicy(), summary, sample_dir=SAMPLE_DIR)
    load_sample_transcripts(database, IngestPolicy(), summary, sample_dir=SAMPLE_DIR)
    rows = calls(database)
    assert summary.counts["call"] == {
        "accepted": 14,
        "flagged": 0,
        "updated": 0,
        "duplicate": 14,
        "rejected": 0,
    }
    assert {m["account"] for m in rows} == {"acct-002"} and len(rows) == 14
    assert sum(m["role"] == "customer" for m in rows) == 7
    assert all(
        datetime(2026, 7, 1, tzinfo=UTC)
        < m["created_at"].replace(tzinfo=UTC)
        < datetime(2026, 9, 10, tzinfo=UTC)
        for m in rows
    )  # before the churn date


# --- scoring and reading back ------------------------------------------------------------------


def test_utterances_are_scored_and_shown_as_call_evidence_and_trend(
    client: TestClient,
    keys: dict[Role, str],
    database: Database,
    model_hub: ModelHub,
    tmp_path: Path,
) -> None:
    make_accounts(database, {"acme": {"domain": "acme.example"}})
    angry = {
        "started_at": "2026-10-05T14:00:00Z",
        "utterances": [
            {"speaker": "Dana", "email": "dana@lumenly.example", "text": "Hello.", "start": 0},
            {
                "speaker": "Sam",
                "email": "sam@acme.example",
                "text": "This is unacceptable. The export failed again and we lost a whole "
                "day of work. We are very unhappy with the service.",
                "start": 2,
            },
            {"speaker": "Dana", "text": "I am sorry, we will fix it today.", "start": 9},
            {"speaker": "Sam", "text": "Thank you, the new dashboard is great.", "start": 12},
        ],
    }
    write(tmp_path / "angry.json", angry)
    summary = engine(database).run("calls", TranscriptConnector([tmp_path], options()))
    assert summary.stored == 4
    ScoringWorker(
        database, model_hub.scorer(), topics=lambda s: topic_model(s, model_hub), worker_id="t"
    ).drain()
    with database.session() as session:
        scored = session.exec(
            select(Message.source, MessageScore.label).join(
                MessageScore,
                MessageScore.message_id == Message.id,  # type: ignore[arg-type]
            )
        ).all()
    assert len(scored) == 4 and {source for source, _ in scored} == {"call"}
    viewer = auth(keys[Role.VIEWER])
    page = client.get("/v1/accounts/acme/messages", params={"source": "call"}, headers=viewer)
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [(i["source"], i["author_role"]) for i in items] == [("call", "customer")] * 2
    assert all(i["label"] is not None and i["thread_id"].startswith("call-") for i in items)
    labels = {i["text"][:10]: i["label"] for i in items}
    assert labels["This is un"] == "negative" and labels["Thank you,"] == "positive"
    agents = client.get(
        "/v1/accounts/acme/messages",
        params={"source": "call", "author_role": "agent"},
        headers=viewer,
    ).json()["items"]
    assert len(agents) == 2
    account = client.get("/v1/accounts/acme", params={"include": "evidence"}, headers=viewer)
    evidence = account.json()["evidence"]
    assert [e["source"] for e in evidence] == ["call"]
    trend = client.get(
        "/v1/accounts/acme/sentiment/trend",
        params={"source": "call", "granularity": "day"},
        headers=viewer,
    )
    assert trend.status_code == 200, trend.text
    points = [p for p in trend.json()["points"] if p["message_count"]]
    assert [(p["period_start"], p["scored_count"]) for p in points] == [("2026-10-05", 2)]
    wrong = client.get(
        "/v1/accounts/acme/sentiment/trend", params={"source": "calls"}, headers=viewer
    )
    assert wrong.status_code == 422
    with database.session() as session:
        features = account_features(
            session, ["acme"], datetime(2026, 10, 6, tzinfo=UTC), basis="event"
        )["acme"]
    assert features["message_count_30d"].value == 2
    assert features["negative_share_30d"].value == pytest.approx(0.5)
