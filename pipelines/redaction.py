"""PII redaction: emails, phone numbers and payment-card numbers, before anything is stored.

Free text (message text, notes, reasons) has each piece of PII replaced by a placeholder.
Identifiers that must stay joinable (external ids, thread ids, audit entity ids) are kept as
they are unless they carry PII; then the whole value becomes a keyed hash (HMAC-SHA256 under
the service's `pii_hash_key`), so the same value always maps to the same stored key and
nobody without the key can test a guess.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers

_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]"  # the characters RFC 5322 allows in the local part
EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
EMAIL_TOKEN, PHONE_TOKEN, CARD_TOKEN = "[EMAIL]", "[PHONE]", "[CARD]"
HASHED_ID_PREFIX = "pii:"
KEY_FILE = "pii_hash.key"
_DIGIT = re.compile(r"\d")


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class Redacted:
    """Text with PII replaced, and how many replacements were made."""

    text: str
    count: int


class PiiRedactor:
    """Replaces emails, valid phone numbers and Luhn-valid card numbers with placeholders,
    and identifiers that carry any of them with a keyed hash."""

    def __init__(self, phone_region: str = "US", hash_key: bytes | None = None) -> None:
        self.phone_region = phone_region
        # Without a key (tests, tools) hashed identifiers are stable within this process only.
        self.hash_key = hash_key or secrets.token_bytes(32)

    def identifier(self, value: str) -> str:
        """`value` unchanged, or its keyed hash when it carries PII."""
        if value.startswith(HASHED_ID_PREFIX) or value.isdigit():
            return value  # vendors' numeric ids are ids, even when they pass a card checksum
        if self.redact(value).count == 0:
            return value
        digest = hmac.new(self.hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return HASHED_ID_PREFIX + digest[:40]

    def optional_identifier(self, value: str | None) -> str | None:
        """`identifier` for a value that may be missing."""
        return None if value is None else self.identifier(value)

    def optional_text(self, text: str | None) -> str | None:
        """`redact(text).text` for a value that may be missing."""
        return None if text is None else self.redact(text).text

    def redact(self, text: str) -> Redacted:
        """Redact one text."""
        if not _may_carry_pii(text):
            return Redacted(text=text, count=0)
        text, emails = EMAIL.subn(EMAIL_TOKEN, text)
        text, cards = self._redact_cards(text)
        text, phones = self._redact_phones(text)
        return Redacted(text=text, count=emails + cards + phones)

    def redact_payload(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (for quarantined raw payloads)."""
        if isinstance(value, str):
            return self.redact(value).text
        if isinstance(value, dict):
            return {key: self.redact_payload(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_payload(item) for item in value]
        return value

    @staticmethod
    def _redact_cards(text: str) -> tuple[str, int]:
        count = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            digits = re.sub(r"\D", "", match.group(0))
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                count += 1
                return CARD_TOKEN
            return match.group(0)

        return CARD_CANDIDATE.sub(replace, text), count

    def _redact_phones(self, text: str) -> tuple[str, int]:
        matches = list(
            phonenumbers.PhoneNumberMatcher(
                text, self.phone_region, leniency=phonenumbers.Leniency.VALID
            )
        )
        for match in reversed(matches):
            text = text[: match.start] + PHONE_TOKEN + text[match.end :]
        return text, len(matches)


def _may_carry_pii(value: str) -> bool:
    """Cheap pre-check: an email needs an @, a phone or card number at least 7 digits."""
    return "@" in value or len(_DIGIT.findall(value)) >= 7


@functools.lru_cache(maxsize=8)
def load_hash_key(configured: str | None, data_dir: Path) -> bytes:
    """The key for hashed identifiers: the configured one, else a random key created once
    in `data_dir/pii_hash.key` (readable by the owner only) and reused from then on.

    Every process that writes to one database must use the same key: set `pii_hash_key`
    where processes do not share a data folder."""
    if configured:
        return configured.encode("utf-8")
    path = data_dir / KEY_FILE
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
            path.chmod(0o600)
        except FileExistsError:  # another process created it first
            pass
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(f"{path}: the PII hash key is too short (delete it to make a new one)")
    return key.encode("ascii")
