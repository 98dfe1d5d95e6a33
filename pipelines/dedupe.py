"""De-duplication hashes.

- Exact: a stable hash of the text up to case, width and whitespace (`content_hash`). The same
  text twice for one account is stored once.
- Near-duplicate: a hash of the text's *template* (`template_hash`). For everyone, quoted
  email history, signature and greeting are removed first (models.text_cleaning); for agents
  and bots, whose canned replies differ only in names, ticket numbers and links, the addressee,
  numbers and links are masked too (a customer's "order 1001 failed" and "order 1002 failed"
  are two events). Ingestion treats a message as a near-duplicate when the same account
  already has a message by the same kind of author, from the same source, with the same
  template within NEAR_DUPLICATE_WINDOW: a day for customers and CSMs (the same email sent
  again with a longer quoted history), 30 days for agents and bots.
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

NEAR_DUPLICATE_WINDOW: dict[str, timedelta] = {
    "customer": timedelta(days=1),
    "csm": timedelta(days=1),
    "agent": timedelta(days=30),
    "bot": timedelta(days=30),
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
