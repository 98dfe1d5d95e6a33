"""Parsers for call transcripts: WebVTT, SRT and speaker-labelled JSON, into timed cues.

Each parser is a pure function from the file's text to a `Transcript`. A file that cannot be
read as its format raises `TranscriptError`, which names the line (or, for JSON structure, the
item) so that the caller can print one clear line and go on with the other files.

Speakers come from WebVTT voice tags (`<v Dana Ruiz>...`), from a `Speaker Name: text` prefix
at the start of a caption line (WebVTT and SRT), or from the JSON `speaker` field. A caption
cue without a label continues the previous speaker's turn (`Cue.continues`).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMATS = {".vtt": "vtt", ".srt": "srt", ".json": "json"}

_TIMING = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)(?:\s.*)?$")
_TIMESTAMP = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$")
_VOICE = re.compile(r"(<v(?:\.[^\s>]*)?(?:\s+[^>]*)?>|</v\s*>)")
_VOICE_NAME = re.compile(r"^<v(?:\.[^\s>]*)?(?:\s+([^>]*))?>$")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # HTML-like tags and SRT/ASS override codes
# "Dana Ruiz: text" - one to four words that start with a letter, then a colon and a space.
_PREFIX = re.compile(
    r"^\s*(?:-\s*)?([^\W\d_][\w.'\u2019-]*(?: [\w.'\u2019-]+){0,3})\s*:(?:\s+(.*))?$"
)
_BRACKETED = re.compile(r"\[[^\]]*\]")
_SHORT_ASIDE = re.compile(r"\((?:\s*[^\s()]+){1,3}\s*\)")  # "(laughs)", "(cross talk)"
_SPACE = re.compile(r"\s+")
_ZOOM_STAMP = re.compile(r"GMT(\d{8})-(\d{6})")


class TranscriptError(ValueError):
    """A transcript file that cannot be read; `where` is e.g. `line 7` or `utterances[3]`."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Cue:
    """One timed piece of speech; times are seconds from the start of the call."""

    start: float
    end: float | None
    text: str
    speaker: str | None = None
    email: str | None = None
    continues: bool = False  # no label in a caption file: the previous speaker goes on
    where: str = ""


@dataclass(frozen=True)
class Participant:
    """Someone on the call, as the recorder's metadata lists them."""

    name: str | None
    email: str | None


@dataclass(frozen=True)
class Transcript:
    """A parsed file: cues in order plus what the file says about the call."""

    format: str
    cues: tuple[Cue, ...]
    title: str | None = None
    started_at: datetime | None = None
    participants: tuple[Participant, ...] = ()


def parse_transcript(suffix: str, text: str) -> Transcript:
    """Parse `text` as the format its file suffix (`.vtt`, `.srt`, `.json`) names."""
    kind = FORMATS.get(suffix.lower())
    if kind is None:
        known = ", ".join(FORMATS)
        raise TranscriptError("line 1", f"unsupported file type {suffix or '(none)'!r} ({known})")
    parser: Callable[[str], Transcript] = {
        "vtt": parse_vtt,
        "srt": parse_srt,
        "json": parse_json,
    }[kind]
    transcript = parser(text.removeprefix("\ufeff"))
    if not transcript.cues:
        raise TranscriptError("line 1", "no cues or utterances found")
    return transcript


def clean_text(text: str) -> str:
    """Caption markup removed (tags, entities, `[inaudible]`-style markers), spaces collapsed."""
    plain = html.unescape(_TAG.sub("", text))
    return _SPACE.sub(" ", _BRACKETED.sub(" ", plain)).strip()


def is_noise(text: str) -> bool:
    """True for a cue with no words: empty, `[inaudible]`, `(laughs)`, `♪`, `...`."""
    rest = _SHORT_ASIDE.sub(" ", _BRACKETED.sub(" ", html.unescape(_TAG.sub("", text))))
    return not any(char.isalnum() for char in rest)


def seconds(value: str, where: str) -> float:
    """`[hh:]mm:ss[.mmm]` (a comma works too, as SRT writes it) as seconds."""
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        raise TranscriptError(where, f"invalid timestamp {value!r} (expected hh:mm:ss.mmm)")
    hours, minutes, secs, fraction = match.groups()
    if int(minutes) > 59 or int(secs) > 59:
        raise TranscriptError(where, f"invalid timestamp {value!r} (minutes or seconds over 59)")
    millis = int((fraction or "0").ljust(3, "0"))
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + millis / 1000


def start_from_file_name(name: str) -> datetime | None:
    """The recording start in a Zoom-style name (`GMT20260826-150000_Recording...`), or None."""
    match = _ZOOM_STAMP.search(name)
    if match is None:
        return None
    try:
        return datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


# --- captions: WebVTT and SRT ------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    first_line: int  # 1-based
    lines: tuple[str, ...]


def _blocks(text: str, start: int = 0) -> list[_Block]:
    """Runs of non-blank lines, from line index `start`."""
    blocks: list[_Block] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines()[start:], start=start + 1):
        if line.strip():
            if not current:
                first = number
            current.append(line)
        elif current:
            blocks.append(_Block(first, tuple(current)))
            current = []
    if current:
        blocks.append(_Block(first, tuple(current)))
    return blocks


def _timing(line: str, where: str) -> tuple[float, float]:
    match = _TIMING.match(line)
    if match is None:
        raise TranscriptError(where, "expected a cue timing line 'start --> end'")
    start, end = seconds(match.group(1), where), seconds(match.group(2), where)
    if end < start:
        raise TranscriptError(where, f"cue ends ({match.group(2)}) before it starts")
    return start, end


def _labelled_lines(
    chunks: list[tuple[str | None, str]], start: float, end: float, where: str
) -> list[Cue]:
    """Cues of one caption block: voice-tagged chunks keep their voice; other lines may carry
    a `Name: text` prefix; a line with neither continues the cue's current speaker."""
    cues: list[Cue] = []
    for voice, chunk in chunks:
        for line in chunk.split("\n"):
            if not line.strip():
                continue
            speaker, body = voice, line
            if voice is None:
                match = _PREFIX.match(_TAG.sub("", line))
                if match is not None and _looks_like_name(match.group(1)):
                    speaker, body = match.group(1).strip(), match.group(2) or ""
            if speaker is None and cues:
                speaker = cues[-1].speaker  # a second line of the same speaker's caption
            continues = speaker is None
            if cues and cues[-1].speaker == speaker:
                last = cues.pop()
                body = f"{last.text}\n{body}"
            cues.append(Cue(start, end, body, speaker, continues=continues, where=where))
    return cues


def _looks_like_name(label: str) -> bool:
    """`Dana Ruiz`, `SPEAKER_01`, `Speaker 2`: every word capitalised or a number (so that
    `The problem is: ...` stays text)."""
    return all(word[0].isupper() or word[0].isdigit() for word in label.split())


def _voice_chunks(payload: str) -> list[tuple[str | None, str]]:
    """(voice name or None, text) pieces of a WebVTT cue payload."""
    chunks: list[tuple[str | None, str]] = []
    voice: str | None = None
    for token in _VOICE.split(payload):
        if not token:
            continue
        opening = _VOICE_NAME.match(token)
        if opening is not None:
            voice = (opening.group(1) or "").strip() or None
        elif token.startswith("</v"):
            voice = None
        else:
            chunks.append((voice, token))
    return chunks


def parse_vtt(text: str) -> Transcript:
    """A WebVTT file: header, then cues (optional identifier, timing line, payload);
    NOTE, STYLE and REGION blocks are skipped."""
    lines = text.splitlines()
    header = lines[0] if lines else ""
    if not (header == "WEBVTT" or header.startswith(("WEBVTT ", "WEBVTT\t"))):
        raise TranscriptError("line 1", "not a WebVTT file (the first line must be WEBVTT)")
    cues: list[Cue] = []
    for index, block in enumerate(_blocks(text)):
        if index == 0:  # the header block (WEBVTT and its metadata lines)
            for number, line in enumerate(block.lines[1:], start=block.first_line + 1):
                if "-->" in line:
                    raise TranscriptError(
                        f"line {number}", "a blank line must separate the header from the cues"
                    )
            continue
        head = block.lines[0]
        if head.split(maxsplit=1)[0] in ("NOTE", "STYLE", "REGION") and "-->" not in head:
            continue
        # A first line that starts with a time is a (maybe broken) timing line, else an id.
        offset = 0 if "-->" in head or _TIMESTAMP.match(head.split()[0]) else 1
        where = f"line {block.first_line + offset}"
        if offset == 1 and (len(block.lines) < 2 or "-->" not in block.lines[1]):
            line_number = block.first_line + (1 if len(block.lines) > 1 else 0)  # after an id
            raise TranscriptError(
                f"line {line_number}", "expected a cue timing line 'start --> end'"
            )
        start, end = _timing(block.lines[offset], where)
        payload = "\n".join(block.lines[offset + 1 :])
        cues += _labelled_lines(_voice_chunks(payload), start, end, where)
    return Transcript("vtt", tuple(cues))


def parse_srt(text: str) -> Transcript:
    """An SRT file: blocks of a number, a timing line (`00:00:01,000 --> ...`) and text."""
    cues: list[Cue] = []
    for block in _blocks(text):
        offset = 1 if block.lines[0].strip().isdigit() else 0
        where = f"line {block.first_line + offset}"
        if offset >= len(block.lines) or "-->" not in block.lines[offset]:
            expected = "a cue timing line" if offset else "a cue number or timing line"
            raise TranscriptError(where, f"expected {expected} 'start --> end'")
        start, end = _timing(block.lines[offset], where)
        payload = "\n".join(block.lines[offset + 1 :])
        cues += _labelled_lines([(None, payload)], start, end, where)
    return Transcript("srt", tuple(cues))


# --- speaker-labelled JSON ---------------------------------------------------------------------


def parse_json(text: str) -> Transcript:
    """A list of `{speaker, text, start, end}` utterances, or an object with `utterances` and
    optional `title`, `started_at` (or `start_time`) and `participants` (`{name, email}`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TranscriptError(f"line {error.lineno}", f"not valid JSON: {error.msg}") from None
    meta: dict[str, Any] = {}
    if isinstance(data, dict):
        meta, items, path = data, data.get("utterances"), "utterances"
        if not isinstance(items, list):
            raise TranscriptError("utterances", "must be a list of utterances")
    elif isinstance(data, list):
        items, path = data, ""
    else:
        raise TranscriptError("line 1", "expected a list of utterances or an object")
    cues = [_json_cue(item, f"{path}[{index}]") for index, item in enumerate(items)]
    title = meta.get("title")
    return Transcript(
        "json",
        tuple(cues),
        title=str(title) if title not in (None, "") else None,
        started_at=_started_at(meta),
        participants=_participants(meta.get("participants")),
    )


def _json_cue(item: Any, where: str) -> Cue:
    if not isinstance(item, dict):
        raise TranscriptError(where, "each utterance must be an object")
    text = item.get("text")
    if not isinstance(text, str):
        raise TranscriptError(f"{where}.text", "missing or not a string")
    speaker, email = item.get("speaker"), item.get("email") or item.get("speaker_email")
    if isinstance(speaker, int) and not isinstance(speaker, bool):
        speaker = f"Speaker {speaker}"  # diarisation without names: 0, 1, ...
    if isinstance(speaker, dict):
        email = email or speaker.get("email")
        speaker = speaker.get("name")
    if speaker is not None and not isinstance(speaker, str):
        raise TranscriptError(f"{where}.speaker", "must be a string or {name, email}")
    if email is not None and not isinstance(email, str):
        raise TranscriptError(f"{where}.email", "must be a string")
    start = _json_seconds(item.get("start"), f"{where}.start", required=True)
    end = _json_seconds(item.get("end"), f"{where}.end", required=False)
    if start is None:  # pragma: no cover - required above
        raise TranscriptError(f"{where}.start", "missing")
    if end is not None and end < start:
        raise TranscriptError(f"{where}.end", "ends before it starts")
    return Cue(start, end, text, (speaker or "").strip() or None, email or None, where=where)


def _json_seconds(value: Any, where: str, *, required: bool) -> float | None:
    if value is None:
        if required:
            raise TranscriptError(where, "missing (seconds from the start of the call)")
        return None
    if isinstance(value, bool):
        raise TranscriptError(where, "must be a number of seconds or hh:mm:ss")
    if isinstance(value, int | float):
        if not value >= 0 or value == float("inf"):
            raise TranscriptError(where, f"must be a finite number of seconds >= 0, got {value}")
        return float(value)
    if isinstance(value, str):
        return seconds(value, where)
    raise TranscriptError(where, "must be a number of seconds or hh:mm:ss")


def _started_at(meta: dict[str, Any]) -> datetime | None:
    key = "started_at" if "started_at" in meta else "start_time"
    value = meta.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise TranscriptError(key, "must be an ISO-8601 time")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TranscriptError(key, f"invalid ISO-8601 time {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _participants(value: Any) -> tuple[Participant, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TranscriptError("participants", "must be a list of {name, email}")
    people: list[Participant] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            people.append(Participant(None, item) if "@" in item else Participant(item, None))
        elif isinstance(item, dict):
            name, email = item.get("name"), item.get("email")
            if not isinstance(name, str | None) or not isinstance(email, str | None):
                raise TranscriptError(f"participants[{index}]", "name and email must be strings")
            people.append(Participant(name or None, email or None))
        else:
            raise TranscriptError(f"participants[{index}]", "must be {name, email} or a string")
    return tuple(people)
