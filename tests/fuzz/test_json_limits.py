"""The request middleware's byte scanners against reference answers computed on parsed JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_service.api.middleware import json_depth_exceeds, lone_surrogate_at

tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\/:,ab \n\t\u00e9😀'), max_size=12)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(tricky_text, inner, max_size=4)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    """Nesting depth of arrays and objects (a scalar is 0, `[]` is 1)."""
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


@settings(max_examples=400)
@given(json_values, st.integers(1, 8), st.booleans(), st.booleans())
def test_the_depth_scan_agrees_with_the_parsed_depth(
    value: Any, limit: int, ascii_only: bool, indent: bool
) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only, indent=2 if indent else None).encode()
    assert json_depth_exceeds(body, limit) == (depth(value) > limit)


lone = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
pair_halves = st.sampled_from(["\ud83d\ude00", "\ud83d", "\ude00"])
texts = st.lists(st.one_of(tricky_text, lone, pair_halves), max_size=6).map("".join)


@settings(max_examples=400)
@given(texts, st.booleans())
def test_lone_surrogates_are_found_exactly_when_present(text: str, as_key: bool) -> None:
    body = json.dumps({text: 1} if as_key else {"text": [text]}).encode()  # ASCII escapes
    # A high surrogate followed by a low one is a valid escaped pair: ask the parser.
    parsed = json.loads(body)
    decoded = next(iter(parsed)) if as_key else parsed["text"][0]
    has_lone = any(0xD800 <= ord(char) <= 0xDFFF for char in decoded)
    at = lone_surrogate_at(body)
    assert (at is not None) == has_lone
    if at is not None:
        assert body[at : at + 3].lower() == b"\\ud"
