"""PII redaction of emails, phone numbers and payment cards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.redaction import PiiRedactor, luhn_valid

redactor = PiiRedactor("US")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me: jordan.lee+ops@acme-freight.co.uk.", "mail me: [EMAIL]."),
        ("call +1 (415) 555-0134 today", "call [PHONE] today"),
        ("call 415-555-0134", "call [PHONE]"),
        ("ruf an: +49 30 901820", "ruf an: [PHONE]"),
        ("card 4111 1111 1111 1111 charged", "card [CARD] charged"),
        ("card 5500-0000-0000-0004", "card [CARD]"),
        ("ticket 4111 1111 1111 1112 is not a card", "ticket 4111 1111 1111 1112 is not a card"),
        ("order 123456 and 3 seats", "order 123456 and 3 seats"),
        ("version 2.4.1 released 2026-10-01", "version 2.4.1 released 2026-10-01"),
    ],
)
def test_redacts_pii_and_keeps_the_rest(text: str, expected: str) -> None:
    assert redactor.redact(text).text == expected


def test_counts_replacements() -> None:
    result = redactor.redact("a@b.io, c@d.io, 4111111111111111")
    assert result.count == 3


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_payload_redaction_walks_nested_values() -> None:
    payload = {"text": "x@y.com", "meta": [{"phone": "+1 415 555 0134"}], "n": 3}
    assert redactor.redact_payload(payload) == {
        "text": "[EMAIL]",
        "meta": [{"phone": "[PHONE]"}],
        "n": 3,
    }


@given(st.emails())
def test_any_email_is_removed(email: str) -> None:
    redacted = redactor.redact(f"contact {email} please").text
    assert email not in redacted


@given(st.text(max_size=300))
def test_redaction_is_idempotent_and_never_crashes(text: str) -> None:
    once = redactor.redact(text).text
    assert redactor.redact(once).text == once
