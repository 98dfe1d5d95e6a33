"""PII redaction: emails, phone numbers and payment-card numbers, before anything is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers

_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]"  # the characters RFC 5322 allows in the local part
EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
EMAIL_TOKEN, PHONE_TOKEN, CARD_TOKEN = "[EMAIL]", "[PHONE]", "[CARD]"


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
    """Replaces emails, valid phone numbers and Luhn-valid card numbers with placeholders."""

    def __init__(self, phone_region: str = "US") -> None:
        self.phone_region = phone_region

    def redact(self, text: str) -> Redacted:
        """Redact one text."""
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
