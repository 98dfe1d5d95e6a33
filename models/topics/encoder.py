"""Sentence embeddings from the base all-MiniLM-L6-v2 as a checksummed int8 ONNX artifact.

Runtime dependencies are onnxruntime, tokenizers and numpy only (no torch). The ONNX graph
already mean-pools over the attention mask and L2-normalises; `encode` re-normalises in numpy
so that rows are unit length to float32 precision whatever the graph produced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from models.checksums import ModelChecksumError, file_sha256
from models.onnx_runtime import make_session
from models.topics.embedding_cache import EmbeddingCache

ARTIFACTS_ROOT = Path(__file__).resolve().parent / "artifacts"
DEFAULT_ARTIFACT = "minilm-l6-base-int8"
MANIFEST_FILE = "manifest.json"
VERSION_PREFIX = "all-MiniLM-L6-v2-int8"
# Recent sentence embeddings kept per encoder: 20,000 x 384 float32 is about 31 MB.
DEFAULT_CACHE_SIZE = 20_000


def default_encoder_dir() -> Path:
    """The encoder artifact folder shipped with the repository."""
    return ARTIFACTS_ROOT / DEFAULT_ARTIFACT


def encoder_version(onnx_sha256: str) -> str:
    """Version string of an artifact: the base name plus the first 12 hex of the ONNX sha256."""
    return f"{VERSION_PREFIX}-{onnx_sha256[:12]}"


def load_tokenizer(path: Path, max_length: int) -> Tokenizer:
    """Tokenizer truncating at `max_length` word pieces, without padding (batches pad)."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def pad_ids(ids: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token ids to the longest row: (input_ids, attention_mask), both int64."""
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return input_ids, mask


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def read_verified_manifest(artifact_dir: Path) -> dict[str, Any]:
    """manifest.json of an artifact after checking every listed file against its sha256.

    Raises FileNotFoundError for a missing manifest or file and
    `models.checksums.ModelChecksumError` for a file whose content differs.
    """
    manifest_path = artifact_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no {MANIFEST_FILE} in {artifact_dir}")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    for role in ("model_file", "tokenizer"):
        if manifest[role] not in manifest["files"]:
            raise ModelChecksumError(f"{manifest[role]}: no sha256 recorded in {manifest_path}")
    for name, expected in manifest["files"].items():
        path = artifact_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in {MANIFEST_FILE} but missing")
        actual = file_sha256(path)
        if actual != expected:
            raise ModelChecksumError(
                f"{path}: sha256 {actual} does not match {expected} recorded in {MANIFEST_FILE}"
            )
    return manifest


class SentenceEncoder:
    """Unit-length 384-d sentence embeddings from an ONNX session and a tokenizer."""

    def __init__(
        self,
        session: ort.InferenceSession,
        tokenizer: Tokenizer,
        *,
        version: str,
        dimension: int,
        output_name: str = "embeddings",
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.version = version
        self.dimension = dimension
        self.cache = EmbeddingCache(cache_size)
        self._session = session
        self._tokenizer = tokenizer
        self._output_name = output_name

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids (with [CLS]/[SEP], truncated) of each text; None counts as ''."""
        encodings = self._tokenizer.encode_batch([text or "" for text in texts])
        return [encoding.ids for encoding in encodings]

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, dimension) float32 embeddings, L2-normalised rows, in input order.

        Each distinct token sequence is run once; sequences seen before come from the cache
        (see embedding_cache.py). The rest are sorted by token count and each batch is padded
        only to its longest member, which keeps the usual short messages cheap.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [tuple(row) for row in self.token_ids(texts)]
        return self.cache.embed_through(
            keys, self.dimension, lambda fresh: self._run(fresh, batch_size)
        )

    def _run(self, ids: Sequence[Sequence[int]], batch_size: int) -> np.ndarray:
        """Unit embeddings of tokenised inputs: length-sorted batches, dynamic padding."""
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            input_ids, mask = pad_ids([ids[i] for i in chunk])
            feed = {"input_ids": input_ids, "attention_mask": mask}
            out[chunk] = self._session.run([self._output_name], feed)[0]
        return l2_normalize(out)


def load_sentence_encoder(
    artifact_dir: Path | None = None, *, threads: int = 2, cache_size: int = DEFAULT_CACHE_SIZE
) -> SentenceEncoder:
    """Load the encoder after verifying the sha256 of its ONNX graph and tokenizer;
    `cache_size` embeddings of recent sentences are kept (0: none)."""
    artifact_dir = Path(artifact_dir) if artifact_dir is not None else default_encoder_dir()
    manifest = read_verified_manifest(artifact_dir)
    model_file = str(manifest["model_file"])
    tokenizer = load_tokenizer(artifact_dir / manifest["tokenizer"], int(manifest["max_length"]))
    session = make_session(artifact_dir / model_file, threads)
    return SentenceEncoder(
        session,
        tokenizer,
        version=encoder_version(manifest["files"][model_file]),
        dimension=int(manifest["dimension"]),
        output_name=str(manifest.get("onnx", {}).get("output", "embeddings")),
        cache_size=cache_size,
    )
