"""Strips what is not the author's own words from long messages: quoted replies, signatures and
greetings. Pure functions; the removed parts are reported so explanations can show them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

QUOTE_HEADERS = [
    re.compile(r"^\s*On .{4,200}wrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*From:\s.+$"),
    re.compile(r"^\s*Am .{4,200}schrieb.*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Le .{4,200}a écrit\s*:\s*$", re.IGNORECASE),
]
SIGN_OFF = re.compile(
    r"^\s*(best|best regards|kind regards|warm regards|regards|many thanks|thanks|thank you"
    r"|thanks again|cheers|sincerely|all the best|talk soon|br|mit freundlichen grüßen"
    r"|cordialement|saludos)\s*[,.!]*\s*$",
    re.IGNORECASE,
)
SIGNATURE_DELIMITER = re.compile(r"^\s*--\s*$")
MOBILE_FOOTER = re.compile(r"^\s*Sent from my \w+", re.IGNORECASE)
GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|greetings|hallo|bonjour|hola)"
    r"\b[^.?!\n]{0,40}[,!:]?\s*$",
    re.IGNORECASE,
)
MAX_SIGNATURE_LINES = 6
# A UTF-16 surrogate on its own (JSON can carry one as "\ud800"); no encoder accepts it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class CleanedText:
    """The author's own text and the kinds of parts removed from it."""

    text: str
    removed: list[str] = field(default_factory=list)


def _cut_quoted(lines: list[str]) -> tuple[list[str], bool]:
    for index, line in enumerate(lines):
        if any(pattern.match(line) for pattern in QUOTE_HEADERS):
            return lines[:index], True
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    return kept, len(kept) != len(lines)


def _cut_signature(lines: list[str]) -> tuple[list[str], bool]:
    for index, line in enumerate(lines):
        if SIGNATURE_DELIMITER.match(line) or MOBILE_FOOTER.match(line):
            return lines[:index], True
    for index in range(len(lines) - 1, -1, -1):
        tail = [line for line in lines[index + 1 :] if line.strip()]
        if len(tail) > MAX_SIGNATURE_LINES:
            break
        if SIGN_OFF.match(lines[index]) and all(len(line) <= 80 for line in tail):
            return lines[:index], True
    return lines, False


def _cut_greeting(lines: list[str]) -> tuple[list[str], bool]:
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if GREETING.match(line) and index + 1 < len(lines):
            return lines[index + 1 :], True
        break
    return lines, False


def replace_lone_surrogates(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (the replacement character).

    Python strings decoded from JSON may hold them; the tokenizers, spaCy and the database
    refuse them (UnicodeEncodeError), so the message path replaces them first.
    """
    return LONE_SURROGATE.sub("\ufffd", text)


def clean_message(text: str) -> CleanedText:
    """Replace lone surrogates, then remove quoted history, the signature and an opening
    greeting line.

    If nothing would be left, the original text is kept (a message that is only "Thanks!"
    still has a sentiment).
    """
    text = replace_lone_surrogates(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    removed: list[str] = []
    for kind, step in (
        ("quoted_reply", _cut_quoted),
        ("signature", _cut_signature),
        ("greeting", _cut_greeting),
    ):
        lines, changed = step(lines)
        if changed:
            removed.append(kind)
    cleaned = "\n".join(lines).strip()
    if not cleaned:
        return CleanedText(text.strip(), [])
    return CleanedText(cleaned, removed)
