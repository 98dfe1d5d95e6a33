"""Stripping quoted replies, signatures and greetings from long messages."""

from __future__ import annotations

from models.text_cleaning import clean_message

EMAIL = """Hi team,

The export failed again this morning. We need this fixed before Friday.

Best regards,
Jordan Lee
Ops Lead | Northwind Freight

On Tue, Jul 14, 2026 at 9:02 AM Support <support@lumenly.example> wrote:
> Hi Jordan,
> We have deployed a fix, everything should work now. We are delighted to help!
"""


def test_email_keeps_only_the_authors_words() -> None:
    cleaned = clean_message(EMAIL)
    assert cleaned.text == (
        "The export failed again this morning. We need this fixed before Friday."
    )
    assert cleaned.removed == ["quoted_reply", "signature", "greeting"]


def test_quoted_lines_without_a_header_are_dropped() -> None:
    cleaned = clean_message("> you said it works\nIt does not work.")
    assert cleaned.text == "It does not work."


def test_dash_dash_signature_and_mobile_footer() -> None:
    assert clean_message("Still broken.\n-- \nAlex").text == "Still broken."
    assert clean_message("Still broken.\nSent from my iPhone").text == "Still broken."


def test_a_polite_opening_that_carries_content_is_kept() -> None:
    text = "Thanks, but this is the third time the export failed."
    assert clean_message(text).text == text
    assert clean_message(text).removed == []


def test_a_message_that_is_only_a_sign_off_is_kept() -> None:
    assert clean_message("Thanks!").text == "Thanks!"


def test_a_long_tail_after_thanks_is_not_a_signature() -> None:
    body = "Thanks,\n" + "\n".join(f"line {i} of the actual complaint" for i in range(8))
    assert clean_message(body).text == body
