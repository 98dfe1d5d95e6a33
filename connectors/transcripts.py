"""Call transcripts (WebVTT, SRT, speaker-labelled JSON files or folders) as `call` messages.

Each file is one call and one page of the sync engine (its utterances are stored together):

- Speakers become customer or agent: a speaker map (name or email -> role or email) wins;
  otherwise an email at one of our `agent_domains` is an agent (`agent_role`), any other email a
  customer; a speaker with no email and no map entry is `unknown` (counted in the report).
- Consecutive cues of one speaker merge into one utterance (at most `max_utterance_chars`);
  cues with no words (`[inaudible]`, `(laughs)`, `♪`) are dropped and counted as skipped.
- `created_at` = call start + the cue's start. The call start is, in order: the JSON file's
  `started_at`, the `call_start` option, a Zoom-style `GMTyyyymmdd-hhmmss` in the file name,
  else the file's modification time taken as the end of the call (recorded as
  `call_start_from` in each message).
- The call's account: the `account_id` option when given (only it), else the customers' emails
  and domains through the usual account resolution; unresolved -> quarantined
  (`unresolved_account`) and replayed once the account exists.
- `external_id` = `<sha256(file)[:16]>:<utterance index>`, `thread_id` = `call-<same hash>`:
  importing a file again, or a renamed copy, stores nothing twice.
- A file that cannot be parsed is quarantined (kind `transcript`, reason
  `invalid_transcript`, naming the file and line) and the other files still import.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.accounts import AccountRef, direct, domain_of
from connectors.base import Draft, Page, Refusal
from connectors.errors import ConfigError
from connectors.http import HttpStats
from connectors.transcript_formats import (
    FORMATS,
    Cue,
    Transcript,
    TranscriptError,
    clean_text,
    is_noise,
    parse_transcript,
    start_from_file_name,
)
from pipelines.records import Rejection
from sentiment_service.vocabulary import AuthorRole, Source

log = logging.getLogger(__name__)

SOURCE_SYSTEM = "transcripts"
ROLES = frozenset(role.value for role in AuthorRole)


@dataclass(frozen=True)
class TranscriptOptions:
    """How speakers, accounts and times are decided (see the module docstring)."""

    agent_domains: tuple[str, ...] = ()
    speakers: Mapping[str, str] = field(default_factory=dict)
    account_id: str | None = None
    call_start: datetime | None = None
    agent_role: str = AuthorRole.AGENT.value
    source_system: str = SOURCE_SYSTEM
    max_utterance_chars: int = 2000

    def __post_init__(self) -> None:
        for key, value in self.speakers.items():
            if "@" not in value and value not in ROLES:
                allowed = ", ".join(sorted(ROLES))
                raise ConfigError(
                    f"speakers[{key!r}]: {value!r} is neither an email nor a role ({allowed})"
                )
        if self.agent_role not in ROLES:
            raise ConfigError(f"agent_role: {self.agent_role!r} is not a role")
        if self.max_utterance_chars < 1:
            raise ConfigError("max_utterance_chars must be at least 1")


@dataclass
class TranscriptReport:
    """What an import saw, file by file (added to the sync summary by the CLI)."""

    files: int = 0
    calls: int = 0
    utterances: int = 0
    noise_cues: int = 0
    unknown_speakers: int = 0
    unknown_utterances: int = 0
    start_from_mtime: int = 0
    bad_files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class Utterance:
    """One speaker's turn: merged cues, times in seconds from the call start."""

    speaker: str | None
    email: str | None
    start: float
    end: float | None
    text: str


@dataclass(frozen=True)
class Speaker:
    """A resolved speaker."""

    role: str
    email: str | None


def transcript_files(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(files to import, files ignored): folders are searched recursively for `.vtt`, `.srt`
    and `.json` files (hidden ones are ignored too); a file named directly is always read."""
    chosen: list[Path] = []
    ignored: list[Path] = []
    for path in paths:
        if not path.is_dir():
            chosen.append(path)
            continue
        for found in sorted(p for p in path.rglob("*") if p.is_file()):
            hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
            wanted = found.suffix.lower() in FORMATS and not hidden
            (chosen if wanted else ignored).append(found)
    return chosen, ignored


def utterances(transcript: Transcript, max_chars: int) -> tuple[list[Utterance], int]:
    """Cues merged into turns (same speaker, consecutive), and the number of noise cues.

    A labelled cue sets the speaker even when it is noise; an unlabelled caption cue goes on
    with the current speaker; a JSON utterance with neither speaker nor email stays alone."""
    turns: list[Utterance] = []
    keys: list[object] = []
    noise = 0
    speaker: str | None = None
    email: str | None = None
    key: object = "unlabelled"
    for number, cue in enumerate(transcript.cues):
        if not cue.continues:
            speaker, email = cue.speaker, cue.email
            key = _speaker_key(cue, number)
        if is_noise(cue.text):
            noise += 1
            continue
        text = clean_text(cue.text)
        if turns and keys[-1] == key and len(turns[-1].text) + 1 + len(text) <= max_chars:
            last = turns[-1]
            end = _latest(last.end, cue.end if cue.end is not None else cue.start)
            turns[-1] = Utterance(
                last.speaker, last.email or email, last.start, end, f"{last.text} {text}"
            )
        else:
            turns.append(Utterance(speaker, email, cue.start, cue.end, text))
            keys.append(key)
    return turns, noise


def _speaker_key(cue: Cue, number: int) -> object:
    if cue.speaker:
        return ("name", cue.speaker.casefold())
    if cue.email:
        return ("email", cue.email.strip().lower())
    return ("alone", number)


def _latest(first: float | None, second: float) -> float:
    return second if first is None else max(first, second)


class SpeakerResolver:
    """Roles and emails of one call's speakers (speaker map, participants, agent domains)."""

    def __init__(self, options: TranscriptOptions, transcript: Transcript) -> None:
        self.options = options
        self.map = {
            key.strip().casefold(): value.strip() for key, value in options.speakers.items()
        }
        self.emails = {
            person.name.strip().casefold(): person.email.strip().lower()
            for person in transcript.participants
            if person.name and person.email
        }
        for cue in transcript.cues:  # an email given on one utterance names the speaker's others
            if cue.speaker and cue.email:
                self.emails.setdefault(cue.speaker.strip().casefold(), cue.email.strip().lower())
        self.domains = tuple(d.strip().lower().lstrip("@") for d in options.agent_domains)

    def resolve(self, name: str | None, email: str | None) -> Speaker:
        """The role and email of a speaker."""
        key = (name or "").strip().casefold()
        mapped = self.map.get(key) if key else None
        address = (email or "").strip().lower() or None
        if mapped is not None and "@" in mapped:
            address, mapped = address or mapped.lower(), None
        address = address or self.emails.get(key)
        if mapped is None and address is not None:
            mapped = self.map.get(address)
            if mapped is not None and "@" in mapped:
                mapped = None
        if mapped is not None:
            return Speaker(mapped, address)
        if address is not None and "@" in address:
            return Speaker(
                self.options.agent_role if self.is_ours(address) else "customer", address
            )
        return Speaker(AuthorRole.UNKNOWN.value, address)

    def is_ours(self, email: str) -> bool:
        """True for an address at one of our (agent) domains or their subdomains."""
        domain = email.rsplit("@", 1)[-1].lower()
        return any(domain == ours or domain.endswith("." + ours) for ours in self.domains)


class TranscriptConnector:
    """Imports transcript files; one page per file. There is no cursor: de-duplication is by
    file hash, so importing the same files again stores nothing new."""

    def __init__(
        self,
        paths: Sequence[Path],
        options: TranscriptOptions | None = None,
        *,
        report: TranscriptReport | None = None,
    ) -> None:
        self.paths = list(paths)
        self.options = options or TranscriptOptions()
        self.source_system = self.options.source_system
        self.report = report or TranscriptReport()
        self.stats = HttpStats()

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """One page per file, in path order (`cursor` and `since` do not apply)."""
        files, ignored = transcript_files(self.paths)
        for path in ignored:
            self.report.ignored_files.append(str(path))
            log.info("transcripts: ignored %s (hidden, or not .vtt, .srt or .json)", path)
        for path in files:
            self.report.files += 1
            yield self._page(path)

    def _page(self, path: Path) -> Page:
        try:
            data = path.read_bytes()
            text = data.decode("utf-8-sig")
            transcript = parse_transcript(path.suffix, text)
        except OSError as error:
            return self._refuse(path, None, "line 1", f"cannot read: {error.strerror}")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            return self._refuse(path, data, f"line {line}", "not UTF-8 text")
        except TranscriptError as error:
            return self._refuse(path, data, error.where, error.message)
        digest = hashlib.sha256(data).hexdigest()[:16]
        turns, noise = utterances(transcript, self.options.max_utterance_chars)
        start, start_from = self._call_start(path, transcript)
        resolver = SpeakerResolver(self.options, transcript)
        speakers = [resolver.resolve(turn.speaker, turn.email) for turn in turns]
        account_refs = self._account_refs(transcript, speakers, resolver)
        unknown = {
            (turn.speaker or "").casefold(): turn.speaker or "(unlabelled)"
            for turn, who in zip(turns, speakers, strict=True)
            if who.role == AuthorRole.UNKNOWN.value
        }
        drafts = [
            Draft(
                self._record(digest, index, turn, who, transcript, start, start_from),
                account_refs,
            )
            for index, (turn, who) in enumerate(zip(turns, speakers, strict=True))
        ]
        report = self.report
        report.calls += 1
        report.utterances += len(drafts)
        report.noise_cues += noise
        report.unknown_speakers += len(unknown)
        unresolved = sum(1 for who in speakers if who.role == AuthorRole.UNKNOWN.value)
        report.unknown_utterances += unresolved
        report.start_from_mtime += start_from == "file_mtime"
        if unknown:
            names = ", ".join(sorted(unknown.values()))
            log.warning("transcripts: %s: speakers with unknown role: %s", path, names)
        return Page(drafts, None, skipped=noise, unresolved_authors=unresolved)

    def _refuse(self, path: Path, data: bytes | None, where: str, message: str) -> Page:
        line = f"{path}: {where}: {message}"
        self.report.bad_files.append(line)
        log.warning("transcripts: %s", line)
        payload: dict[str, Any] = {
            "source": Source.CALL.value,
            "file": str(path),
            "where": where,
            "error": message,
        }
        if data is not None:
            payload["sha256"] = hashlib.sha256(data).hexdigest()
        rejection = Rejection("invalid_transcript", f"{path.name}: {where}: {message}", where)
        return Page([], None, refused=(Refusal("transcript", payload, rejection),))

    def _call_start(self, path: Path, transcript: Transcript) -> tuple[datetime, str]:
        if transcript.started_at is not None:
            return transcript.started_at, "file_metadata"
        if self.options.call_start is not None:
            start = self.options.call_start
            return (start.replace(tzinfo=UTC) if start.tzinfo is None else start), "option"
        named = start_from_file_name(path.name)
        if named is not None:
            return named, "file_name"
        # A recorder writes the file when the call ends: start = mtime - the transcript's length.
        length = max(cue.end if cue.end is not None else cue.start for cue in transcript.cues)
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return written - timedelta(seconds=length), "file_mtime"

    def _account_refs(
        self, transcript: Transcript, speakers: list[Speaker], resolver: SpeakerResolver
    ) -> tuple[AccountRef, ...]:
        if self.options.account_id:
            return (direct(self.options.account_id),)
        emails: list[str] = [who.email for who in speakers if who.role == "customer" and who.email]
        for person in transcript.participants:
            if person.email and "@" in person.email and not resolver.is_ours(person.email):
                emails.append(person.email.strip().lower())
        unique = list(dict.fromkeys(emails))
        found: list[AccountRef] = [AccountRef("email", email) for email in unique]
        found += [ref for ref in (domain_of(email) for email in unique) if ref is not None]
        return tuple(dict.fromkeys(found))

    def _record(
        self,
        digest: str,
        index: int,
        turn: Utterance,
        who: Speaker,
        transcript: Transcript,
        start: datetime,
        start_from: str,
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "call_id": digest,
            "format": transcript.format,
            "speaker": turn.speaker,
            "start_seconds": round(turn.start, 3),
            "end_seconds": None if turn.end is None else round(turn.end, 3),
            "call_started_at": start.isoformat(),
            "call_start_from": start_from,
        }
        if transcript.title:
            metadata["call_title"] = transcript.title
        return {
            "source": Source.CALL.value,
            "source_system": self.source_system,
            "external_id": f"{digest}:{index}",
            "author_role": who.role,
            "text": turn.text,
            "created_at": (start + timedelta(seconds=turn.start)).isoformat(),
            "thread_id": f"call-{digest}",
            "metadata": metadata,
        }
