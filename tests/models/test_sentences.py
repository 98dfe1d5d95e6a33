"""spaCy sentence splitting, checksum-verified."""

from __future__ import annotations

import pytest

from models.checksums import ModelChecksumError
from models.sentences import SentenceSplitter


@pytest.fixture(scope="module")
def splitter() -> SentenceSplitter:
    """The real splitter."""
    return SentenceSplitter()


def test_splits_sentences_with_offsets(splitter: SentenceSplitter) -> None:
    text = "The product is great. But billing is a mess! Can you help?"
    sentences = splitter.split([text])[0]
    assert [s.text for s in sentences] == [
        "The product is great.",
        "But billing is a mess!",
        "Can you help?",
    ]
    assert all(text[s.start : s.end].strip() == s.text for s in sentences)


def test_empty_and_whitespace_texts_have_no_sentences(splitter: SentenceSplitter) -> None:
    assert splitter.split(["", "   \n"]) == [[], []]


def test_version_and_checksum_are_reported(splitter: SentenceSplitter) -> None:
    assert splitter.version.endswith("3.8.0")
    assert len(splitter.checksum) == 64


def test_checksum_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ModelChecksumError, match="does not match the pinned"):
        SentenceSplitter(expected_sha256="0" * 64)
