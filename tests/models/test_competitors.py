"""Competitor mentions: aliases, whole-token matching, intent cues and sentence sentiment."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.message_sentiment import SentenceSentiment
from models.topics.competitors import (
    EVALUATING,
    MENTION,
    Competitor,
    CompetitorMatcher,
    CompetitorMention,
    load_competitors,
    mention_sentiment,
)


@pytest.fixture(scope="module")
def matcher() -> CompetitorMatcher:
    """A matcher over the shipped competitor list."""
    return CompetitorMatcher.from_yaml()


def _found(matcher: CompetitorMatcher, sentence: str) -> list[tuple[str, str, str]]:
    """(key, matched text, intent) of every mention in one sentence."""
    return [
        (m.competitor_key, sentence[m.start : m.end], m.intent)
        for m in matcher.find_in_sentences([sentence])
    ]


def test_default_file_lists_the_three_competitors() -> None:
    competitors = load_competitors()
    assert [c.key for c in competitors] == ["brightpath", "quorvo", "tallymark"]
    brightpath = competitors[0]
    assert brightpath.name == "Brightpath"
    assert {"bright path", "brightpath.io"} <= set(brightpath.aliases)


@pytest.mark.parametrize(
    ("sentence", "key", "surface"),
    [
        ("Honestly QUORVO has nicer charts.", "quorvo", "QUORVO"),
        ("quorvo has nicer charts.", "quorvo", "quorvo"),
        ("Quorvo's charts are nicer.", "quorvo", "Quorvo"),
        ("A friend uses Bright Path for this.", "brightpath", "Bright Path"),
        ("A friend uses brightpath.io for this.", "brightpath", "brightpath.io"),
        ("Their TallyMark rollout went fine.", "tallymark", "TallyMark"),
        ("Tally has nicer charts.", "tallymark", "Tally"),
    ],
)
def test_names_and_aliases_match_in_any_case(
    matcher: CompetitorMatcher, sentence: str, key: str, surface: str
) -> None:
    assert _found(matcher, sentence) == [(key, surface, MENTION)]


@pytest.mark.parametrize(
    "sentence",
    [
        "Brightpathway is the street our office is on.",
        "We use quorvoish naming for servers.",
        "Please tally up the invoices for May.",
        "Lumenly works well for us.",
        "",
    ],
)
def test_no_partial_word_or_lowercase_short_alias_match(
    matcher: CompetitorMatcher, sentence: str
) -> None:
    assert _found(matcher, sentence) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "We are looking at Quorvo for next year.",
        "We're evaluating Brightpath right now.",
        "Leadership is switching to Tallymark in Q3.",
        "Quorvo quoted us 30% less.",
        "We started a trial with bright path.",
        "Did not renew; moved to Quorvo.",
        "Brightpath offered us a similar package for less.",
        "Quorvo is much cheaper and does the same thing.",
        "Our new VP used Quorvo at her last company and is pushing us to switch.",
    ],
)
def test_evaluating_intent(matcher: CompetitorMatcher, sentence: str) -> None:
    assert [intent for _, _, intent in _found(matcher, sentence)] == [EVALUATING]


@pytest.mark.parametrize(
    "sentence",
    [
        "Quorvo's pricing page is confusing.",
        "We looked at Quorvo last year and decided to stay.",
        "We are not switching to Brightpath, relax.",
        "Brightpath isn't cheaper once you add seats.",
        "We're looking at dashboards, and Quorvo came up in the meeting.",
        "We used Tallymark years ago and have no plans to switch.",
    ],
)
def test_mention_intent(matcher: CompetitorMatcher, sentence: str) -> None:
    assert [intent for _, _, intent in _found(matcher, sentence)] == [MENTION]


def test_mentions_carry_sentence_index_offsets_and_alias() -> None:
    matcher = CompetitorMatcher([Competitor("acme", "Acme", aliases=["acme corp"])])
    sentences = ["Nothing here.", "Acme Corp and acme both came up."]
    assert matcher.find_in_sentences(sentences) == [
        CompetitorMention("acme", "acme corp", 1, 0, 9, MENTION),
        CompetitorMention("acme", "Acme", 1, 14, 18, MENTION),
    ]


def _scored(text: str, label: str, score: float) -> SentenceSentiment:
    probabilities = {"negative": 0.0, "neutral": 0.0, "positive": 0.0}
    probabilities[label] = 1.0
    return SentenceSentiment(text, 0, len(text), label, probabilities, score)


def test_mention_sentiment_attaches_the_sentence_label(matcher: CompetitorMatcher) -> None:
    sentences = ["Our renewal is coming up.", "Frankly Quorvo is cheaper and faster."]
    sentiments = [_scored(sentences[0], "neutral", 0.0), _scored(sentences[1], "negative", -0.7)]
    scored = mention_sentiment(matcher.find_in_sentences(sentences), sentiments)
    assert [(s.mention.competitor_key, s.label, s.score) for s in scored] == [
        ("quorvo", "negative", -0.7)
    ]
    assert scored[0].mention.intent == EVALUATING


def test_mention_sentiment_rejects_misaligned_sentences() -> None:
    mention = CompetitorMention("quorvo", "Quorvo", 3, 0, 6, MENTION)
    with pytest.raises(ValueError, match="sentence 3"):
        mention_sentiment([mention], [_scored("Hi.", "neutral", 0.0)])


def test_bad_competitor_files_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "competitors.yaml"
    path.write_text("competitors:\n  - key: a\n    name: A\n  - key: a\n    name: B\n")
    with pytest.raises(ValueError, match="duplicate keys"):
        load_competitors(path)
    path.write_text("competitors:\n  - key: a\n    name: A\n    aliases: [1]\n")
    with pytest.raises(ValueError, match="aliases"):
        load_competitors(path)
    path.write_text("rivals: []\n")
    with pytest.raises(ValueError, match="'competitors' list"):
        load_competitors(path)
