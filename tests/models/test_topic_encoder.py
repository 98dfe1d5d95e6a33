"""The shipped int8 topic encoder: shapes, normalisation, semantics and checksum checks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.checksums import ModelChecksumError
from models.topics.encoder import (
    SentenceEncoder,
    default_encoder_dir,
    load_sentence_encoder,
)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    """The shipped artifact, loaded once."""
    return load_sentence_encoder(threads=2)


def test_shape_dtype_and_unit_rows(encoder: SentenceEncoder) -> None:
    texts = ["My card has not arrived yet.", "How do I reset my password?", "", "ok"]
    embeddings = encoder.encode(texts)
    assert embeddings.shape == (4, 384)
    assert embeddings.dtype == np.float32
    assert encoder.dimension == 384
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_empty_input(encoder: SentenceEncoder) -> None:
    empty = encoder.encode([])
    assert empty.shape == (0, 384)
    assert empty.dtype == np.float32


def test_version_names_the_onnx_checksum(encoder: SentenceEncoder) -> None:
    manifest = json.loads((default_encoder_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"all-MiniLM-L6-v2-int8-[0-9a-f]{12}", encoder.version)
    assert encoder.version.endswith(manifest["files"][manifest["model_file"]][:12])


def test_paraphrases_are_closer_than_unrelated_sentences(encoder: SentenceEncoder) -> None:
    a, b, c, d = encoder.encode(
        [
            "I was charged twice for the same order.",
            "The same payment went through two times on my account.",
            "The new dashboard looks great on mobile.",
            "What time does the office open tomorrow?",
        ]
    )
    assert a @ b > a @ c + 0.2
    assert a @ b > a @ d + 0.2


def test_output_follows_input_order(encoder: SentenceEncoder) -> None:
    texts = ["short", "a somewhat longer sentence about invoices and billing", "medium text"]
    forward = encoder.encode(texts)
    backward = encoder.encode(texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-6)
    small_batches = encoder.encode(texts, batch_size=1)
    assert np.min(np.sum(forward * small_batches, axis=1)) > 0.95


def test_long_text_is_truncated_not_rejected(encoder: SentenceEncoder) -> None:
    assert encoder.encode(["The export is slow again. " * 500]).shape == (1, 384)


@pytest.fixture
def artifact_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped artifact."""
    return Path(shutil.copytree(default_encoder_dir(), tmp_path / "encoder"))


def test_tampered_tokenizer_raises(artifact_copy: Path) -> None:
    with (artifact_copy / "tokenizer.json").open("a", encoding="utf-8") as handle:
        handle.write(" ")
    with pytest.raises(ModelChecksumError, match=r"tokenizer\.json"):
        load_sentence_encoder(artifact_copy)


def test_onnx_checksum_mismatch_raises(artifact_copy: Path) -> None:
    manifest_path = artifact_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][manifest["model_file"]] = "0" * 64
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelChecksumError, match=r"model\.int8\.onnx"):
        load_sentence_encoder(artifact_copy)


def test_missing_manifest_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_sentence_encoder(tmp_path)
