"""Content hashes for exact de-duplication."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.dedupe import content_hash


def test_hash_ignores_case_and_spacing_only() -> None:
    assert content_hash("Hello   World\n") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello, world")


@given(st.text(max_size=200), st.sampled_from([" ", "  ", "\n", "\t "]))
def test_hash_ignores_surrounding_and_repeated_whitespace(text: str, space: str) -> None:
    digest = content_hash(text)
    assert len(digest) == 64
    assert content_hash(space + text + space) == digest
