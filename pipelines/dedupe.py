"""De-duplication hashes and the canned-reply policy.

Two records with different `(source_system, external_id)` are never merged: a customer who
writes "Still broken." on two tickets, or an agent and an end user who post the same words,
are distinct messages and are all stored. Only the same record sent again (same key) is a
plain duplicate.

- Exact: a stable hash of the text up to case, width and whitespace (`content_hash`), kept
  for look-ups and for the canned-reply policy.
- Template: a hash of the text's *template* (`template_hash`). For everyone, quoted email
  history, signature and greeting are removed first (models.text_cleaning); for agents and
  bots, whose canned replies differ only in names, ticket numbers and links, the addressee,
  numbers and links are masked too.
- Canned-reply policy (narrow, explicit): a new agent or bot message whose template equals
  that of a message by the same kind of author, from the same source, in the same thread,
  within CANNED_REPLY_WINDOW, is stored and *flagged* (`duplicate_of`, reason
  `canned_reply`): it is listed by the API but neither scored nor counted in rollups.
  Customer and CSM messages are never flagged.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import timedelta

from models.text_cleaning import clean_message

_SPACE = re.compile(r"\s+")
_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
# Salutation lines name the person addressed: "Hi Lena," -> "hi <name>,"
_SALUTATION = re.compile(r"^(hi|hello|hey|dear|thanks|thank you)\s+[^\s,!.]+", re.IGNORECASE)

CANNED_REPLY_WINDOW: dict[str, timedelta] = {
    "agent": timedelta(days=1),
    "bot": timedelta(days=1),
}


def normalise_for_hash(text: str) -> str:
    """Case-, width- and whitespace-insensitive form of a text."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(text: str) -> str:
    """SHA-256 of the normalised text: equal for texts that differ only in case or spacing."""
    return hashlib.sha256(normalise_for_hash(text).encode("utf-8")).hexdigest()


CANNED_AUTHORS = frozenset({"agent", "bot"})


def template_text(text: str, author_role: str = "agent") -> str:
    """The text as a template: cleaned; for agents and bots also the addressee, numbers and
    links masked."""
    cleaned = clean_message(text).text
    if author_role not in CANNED_AUTHORS:
        return normalise_for_hash(cleaned)
    lines = [_SALUTATION.sub(r"\1 <name>", line.strip()) for line in cleaned.splitlines()]
    masked = _NUMBER.sub("#", _LINK.sub("<link>", "\n".join(lines)))
    return normalise_for_hash(masked)


def template_hash(text: str, author_role: str = "agent") -> str:
    """SHA-256 of `template_text`."""
    return hashlib.sha256(template_text(text, author_role).encode("utf-8")).hexdigest()
