"""Keyphrases: real spaCy extraction, normalisation, filler removal and c-TF-IDF ranking."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from models.checksums import ModelChecksumError
from models.topics.keyphrases import (
    KeyphraseExtractor,
    count_by_group,
    main,
    rank_keyphrases,
    strip_placeholders,
    top_phrases,
)


@pytest.fixture(scope="module")
def extractor() -> KeyphraseExtractor:
    """The real extractor (tagger + entity filter)."""
    return KeyphraseExtractor()


def test_noun_phrases_are_lowercased_with_singular_heads(extractor: KeyphraseExtractor) -> None:
    [phrases] = extractor.extract(["Our CSV exports keep failing on the churn-risk panel."])
    assert phrases == ["csv export", "churn-risk panel"]


def test_plural_only_words_keep_their_form(extractor: KeyphraseExtractor) -> None:
    [phrases] = extractor.extract(["The sales data in the analytics tab is stale."])
    assert "sales data" in phrases
    assert all("datum" not in phrase for phrase in phrases)


def test_filler_placeholders_urls_and_numbers_are_dropped(extractor: KeyphraseExtractor) -> None:
    texts = [
        "Hi team, any update on the issue? Thanks!",
        "We have a problem with it. Reach me at [EMAIL] or [PHONE].",
        "See https://status.example.com or write to ops@example.com",
        "Ticket 40215: we got 3 invoices this month.",
    ]
    assert extractor.extract(texts) == [[], [], [], ["invoice"]]


def test_peoples_names_are_not_keyphrases(extractor: KeyphraseExtractor) -> None:
    [phrases] = extractor.extract(["Zoe Chen asked about the webhook feed on Monday morning."])
    assert phrases == ["webhook feed"]


def test_empty_input(extractor: KeyphraseExtractor) -> None:
    assert extractor.extract([]) == []
    assert extractor.extract(["", "   "]) == [[], []]


def test_label_takes_the_phrases_most_texts_share(extractor: KeyphraseExtractor) -> None:
    texts = [
        "The SSO login loops forever.",
        "SSO login fails for new users.",
        "SSO login broken again, and the weekly digest is late.",
    ]
    assert extractor.label(texts, top_k=1) == ["sso login"]


def test_checksum_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ModelChecksumError, match="does not match the pinned"):
        KeyphraseExtractor(expected_sha256="0" * 64)


def test_strip_placeholders() -> None:
    assert strip_placeholders("call [PHONE] or [EMAIL]").split() == ["call", "or"]


def test_count_by_group_counts_a_phrase_once_per_message() -> None:
    counts = count_by_group(["a", "a", "b"], [["x", "x", "y"], ["x"], []])
    assert counts == {"a": Counter({"x": 2, "y": 1}), "b": Counter()}
    with pytest.raises(ValueError, match="groups"):
        count_by_group(["a"], [])


def test_account_specific_phrase_outranks_a_common_one() -> None:
    group_counts = {
        "acct-1": Counter({"billing": 5, "sso login": 3}),
        "acct-2": Counter({"billing": 5, "dashboard": 1}),
        "acct-3": Counter({"billing": 5, "csv export": 1}),
    }
    ranked = rank_keyphrases(group_counts, top_k=2)
    assert [phrase for phrase, _ in ranked["acct-1"]] == ["sso login", "billing"]
    average = (8 + 6 + 6) / 3
    assert ranked["acct-1"][0][1] == pytest.approx(3 / 8 * math.log(1 + average / 3))
    assert ranked["acct-1"][1][1] == pytest.approx(5 / 8 * math.log(1 + average / 15))


def test_rank_keyphrases_edge_cases() -> None:
    assert rank_keyphrases({}, top_k=3) == {}
    assert rank_keyphrases({"a": Counter()}, top_k=3) == {"a": []}
    assert rank_keyphrases({"a": Counter({"x": 1})}, top_k=0) == {"a": []}
    with pytest.raises(ValueError, match="top_k"):
        rank_keyphrases({}, top_k=-1)


def test_top_phrases_breaks_ties_alphabetically() -> None:
    assert top_phrases([["b", "a"], ["a", "b"], ["c"]], 2) == ["a", "b"]


def test_bench_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "messages.jsonl"
    rows = [{"text": "The CSV export is slow."}, {"text": "Love the new segment builder!"}]
    data.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    assert main(["--bench", "--data", str(data), "--repeats", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["messages"] == 2
    assert [run["entity_filter"] for run in report["runs"]] == [True, False]
    assert all(run["messages_per_s"] > 0 for run in report["runs"])
    assert "csv export" in report["top_phrases"]
