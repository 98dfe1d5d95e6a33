"""Competitor mentions in customer sentences, with a rule-based intent and sentence sentiment.

Matching: every competitor's name and aliases are turned into token patterns by the same
tokenizer that reads the messages (`nlp.make_doc`, no tagger or parser) and matched with
spaCy's PhraseMatcher on the LOWER attribute, so "QUORVO" and "quorvo" match, matches are
whole tokens ("Quorvo's" is "Quorvo" + "'s" and matches; "Brightpathway" is one token and does
not), and multi-word aliases ("bright path") match across whitespace. `cased_aliases` are
matched on ORTH (exact case) for short names that are also ordinary words ("Tally").
Overlapping matches keep the longest.

Intent rule: a mention is "evaluating" when its sentence shows the customer considering or
moving to that competitor, otherwise "mention". The sentence counts as evaluating when

- a lead cue (`LEAD_CUES`: "looking at", "evaluating", "switching to", "moving to",
  "trial with", ...) ends at most `LEAD_GAP` tokens before the competitor, or
- a trail cue (`TRAIL_CUES`: "quoted", "offered", "cheaper", "demo", ...) starts at most
  `TRAIL_GAP` tokens after it ("Quorvo quoted us", "Brightpath is much cheaper"), or
- a sentence cue (`SENTENCE_CUES`: "to switch", "shopping around", ...) appears anywhere in
  the sentence ("Our new VP used Quorvo before and is pushing us to switch"),

and, for lead and trail cues, the tokens between cue and competitor hold no clause break
(, ; : . ! ? or "but") and no negation ("not", "n't", "never", "no"), and no negation sits in
the `LEAD_GAP` tokens before a lead or sentence cue within its clause ("we are not switching to
Quorvo" is a mention). Cues are matched like aliases (case-insensitive, whole tokens). The
rule is deliberately simple and inspectable, and favours precision ("we looked at Quorvo last
year and stayed" stays a mention: "looked at" is not a cue).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import spacy
import yaml
from spacy.matcher import PhraseMatcher

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from models.message_sentiment import SentenceSentiment

DEFAULT_COMPETITORS_PATH = Path(__file__).resolve().parent / "default_competitors.yaml"

Intent = Literal["evaluating", "mention"]
EVALUATING: Intent = "evaluating"
MENTION: Intent = "mention"

LEAD_GAP = 3
TRAIL_GAP = 3
LEAD_CUES: tuple[str, ...] = (
    "looking at",
    "look at",
    "looking into",
    "evaluating",
    "evaluate",
    "evaluation of",
    "considering",
    "eyeing",
    "switching to",
    "switch to",
    "switched to",
    "switching over to",
    "moving to",
    "move to",
    "moved to",
    "migrating to",
    "migrate to",
    "migrated to",
    "going with",
    "go with",
    "trial with",
    "trialling",
    "trialing",
    "trial of",
    "pilot with",
    "piloting",
    "demo with",
    "demo of",
    "quote from",
    "proposal from",
    "offer from",
    "talking to",
    "in talks with",
    "comparison with",
    "comparing",
    "replace you with",
    "replacing you with",
)
TRAIL_CUES: tuple[str, ...] = (
    "quoted",
    "offered",
    "cheaper",
    "costs less",
    "demo",
    "trial",
    "pilot",
    "proposal",
    "quote",
)
SENTENCE_CUES: tuple[str, ...] = (
    "to switch",
    "switching vendors",
    "switch vendors",
    "shopping around",
    "thinking of switching",
    "considering switching",
    "looking to switch",
    "looking for alternatives",
)
NEGATIONS = frozenset({"not", "n't", "never", "no"})
CLAUSE_BREAKS = frozenset({",", ";", ":", ".", "!", "?", "but"})


@dataclass(frozen=True)
class Competitor:
    """A competitor: stable key, display name and the other spellings customers use."""

    key: str
    name: str
    aliases: list[str] = field(default_factory=list)
    cased_aliases: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CompetitorMention:
    """One competitor match: character offsets within sentence `sentence_index`."""

    competitor_key: str
    alias: str
    sentence_index: int
    start: int
    end: int
    intent: Intent


@dataclass(frozen=True)
class ScoredMention:
    """A mention with the sentiment label and score of the sentence it sits in."""

    mention: CompetitorMention
    label: str
    score: float


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: expected a list of non-empty strings")
    return [v.strip() for v in value]


def parse_competitors(data: object) -> list[Competitor]:
    """Competitors from parsed YAML (`{"competitors": [{key, name, aliases?, ...}]}`)."""
    if not isinstance(data, dict) or not isinstance(data.get("competitors"), list):
        raise ValueError("competitor file: expected a top-level 'competitors' list")
    result: list[Competitor] = []
    for index, entry in enumerate(data["competitors"]):
        where = f"competitors[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping")
        key, name = entry.get("key"), entry.get("name")
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{where}: 'key' must be a non-empty string")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: 'name' must be a non-empty string")
        result.append(
            Competitor(
                key=key.strip(),
                name=name.strip(),
                aliases=_strings(entry.get("aliases"), f"{where}.aliases"),
                cased_aliases=_strings(entry.get("cased_aliases"), f"{where}.cased_aliases"),
            )
        )
    keys = [c.key for c in result]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"competitor file: duplicate keys {duplicates}")
    return result


def load_competitors(path: Path | str = DEFAULT_COMPETITORS_PATH) -> list[Competitor]:
    """Competitors from a YAML file (default: the shipped `default_competitors.yaml`)."""
    text = Path(path).read_text(encoding="utf-8")
    return parse_competitors(yaml.safe_load(text))


def _has_break_or_negation(doc: Doc, start: int, end: int) -> bool:
    return any(
        token.lower_ in CLAUSE_BREAKS or token.lower_ in NEGATIONS for token in doc[start:end]
    )


def _negated_before(doc: Doc, cue_start: int) -> bool:
    """A negation within LEAD_GAP tokens before the cue, in the same clause."""
    for token in reversed(doc[max(0, cue_start - LEAD_GAP) : cue_start]):
        if token.lower_ in CLAUSE_BREAKS:
            return False
        if token.lower_ in NEGATIONS:
            return True
    return False


class CompetitorMatcher:
    """Finds competitor mentions in sentences with the tokenizer only (cheap)."""

    def __init__(self, competitors: Sequence[Competitor], nlp: Language | None = None):
        self._nlp = nlp if nlp is not None else spacy.blank("en")
        vocab = self._nlp.vocab
        self._aliases = PhraseMatcher(vocab, attr="LOWER")
        self._cased = PhraseMatcher(vocab, attr="ORTH")
        self._cues = PhraseMatcher(vocab, attr="LOWER")
        self._rules: dict[int, tuple[str, str]] = {}
        for competitor in competitors:
            for alias in dict.fromkeys([competitor.name, *competitor.aliases]):
                self._add(self._aliases, competitor.key, alias)
            for alias in dict.fromkeys(competitor.cased_aliases):
                self._add(self._cased, competitor.key, alias)
        self._cues.add("LEAD", [self._nlp.make_doc(cue) for cue in LEAD_CUES])
        self._cues.add("TRAIL", [self._nlp.make_doc(cue) for cue in TRAIL_CUES])
        self._cues.add("SENTENCE", [self._nlp.make_doc(cue) for cue in SENTENCE_CUES])
        self._lead_id = vocab.strings["LEAD"]
        self._sentence_id = vocab.strings["SENTENCE"]

    @classmethod
    def from_yaml(
        cls, path: Path | str = DEFAULT_COMPETITORS_PATH, nlp: Language | None = None
    ) -> CompetitorMatcher:
        """A matcher over the competitors listed in a YAML file."""
        return cls(load_competitors(path), nlp)

    def _add(self, matcher: PhraseMatcher, key: str, alias: str) -> None:
        rule = f"{key}\x1f{alias}"
        matcher.add(rule, [self._nlp.make_doc(alias)])
        self._rules[self._nlp.vocab.strings[rule]] = (key, alias)

    def _spans(self, doc: Doc) -> list[tuple[int, int, str, str]]:
        found = [
            (start, end, *self._rules[match_id])
            for matcher in (self._aliases, self._cased)
            for match_id, start, end in matcher(doc)
        ]
        found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
        kept: list[tuple[int, int, str, str]] = []
        for span in found:
            if not kept or span[0] >= kept[-1][1]:
                kept.append(span)
        return kept

    def _intent(
        self, doc: Doc, cues: Sequence[tuple[int, int, int]], start: int, end: int
    ) -> Intent:
        for match_id, cue_start, cue_end in cues:
            if match_id == self._sentence_id:
                if not _negated_before(doc, cue_start):
                    return EVALUATING
            elif match_id == self._lead_id:
                gap = start - cue_end
                if (
                    0 <= gap <= LEAD_GAP
                    and not _has_break_or_negation(doc, cue_end, start)
                    and not _negated_before(doc, cue_start)
                ):
                    return EVALUATING
            else:
                gap = cue_start - end
                if 0 <= gap <= TRAIL_GAP and not _has_break_or_negation(doc, end, cue_start):
                    return EVALUATING
        return MENTION

    def find_in_sentences(self, sentences: Sequence[str]) -> list[CompetitorMention]:
        """Mentions in each sentence, in sentence and position order."""
        mentions: list[CompetitorMention] = []
        for index, doc in enumerate(map(self._nlp.tokenizer, sentences)):
            spans = self._spans(doc)
            cues = self._cues(doc) if spans else []
            for start, end, key, alias in spans:
                span = doc[start:end]
                mentions.append(
                    CompetitorMention(
                        competitor_key=key,
                        alias=alias,
                        sentence_index=index,
                        start=span.start_char,
                        end=span.end_char,
                        intent=self._intent(doc, cues, start, end),
                    )
                )
        return mentions


def mention_sentiment(
    mentions: Iterable[CompetitorMention], sentence_sentiments: Sequence[SentenceSentiment]
) -> list[ScoredMention]:
    """Each mention with its sentence's label and score.

    `sentence_sentiments[i]` must be the scores of sentence `i` as passed to
    `find_in_sentences` (for a scored message: `[s.text for s in result.sentences]`).
    """
    scored: list[ScoredMention] = []
    for mention in mentions:
        if not 0 <= mention.sentence_index < len(sentence_sentiments):
            raise ValueError(
                f"mention of {mention.competitor_key!r} refers to sentence "
                f"{mention.sentence_index}, but only {len(sentence_sentiments)} were scored"
            )
        sentence = sentence_sentiments[mention.sentence_index]
        scored.append(ScoredMention(mention=mention, label=sentence.label, score=sentence.score))
    return scored
