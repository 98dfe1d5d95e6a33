"""Exact de-duplication: a stable hash of normalised message text."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalise_for_hash(text: str) -> str:
    """Case-, width- and whitespace-insensitive form of a text."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(text: str) -> str:
    """SHA-256 of the normalised text: equal for texts that differ only in case or spacing."""
    return hashlib.sha256(normalise_for_hash(text).encode("utf-8")).hexdigest()
