"""Text normalisation shared by training and inference (must stay identical for both)."""

from __future__ import annotations

import html
import re

PREPROCESSING_ID = "normalize_text/v1: html-unescape, @mention->@user, url->http, squeeze spaces"

_MENTION = re.compile(r"(?<![\w@])@\w{1,30}")
_URL = re.compile(r"(?:https?://|www\.)\S+", flags=re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Unescape HTML entities, mask @handles and URLs, and collapse whitespace."""
    if not text:
        return ""
    text = html.unescape(text)
    text = _URL.sub("http", text)
    text = _MENTION.sub("@user", text)
    return _SPACES.sub(" ", text).strip()
