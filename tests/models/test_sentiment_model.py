"""The shipped sentiment model: offline checksum-verified loading, calibration, challenge set."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.backends import LABELS, load_backend
from models.message_sentiment import MessageSentimentScorer
from models.minilm import MiniLMBackend
from models.sentences import SentenceSplitter
from models.sentiment.inference import ArtifactChecksumError, default_artifact_dir
from models.sentiment.metrics import expected_calibration_error, fit_temperature
from models.sentiment.preprocess import normalize_text

CHALLENGE = Path(__file__).parents[1] / "data" / "challenge_set.csv"
SHARED = Path(__file__).parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def backend() -> MiniLMBackend:
    """The shipped model."""
    return MiniLMBackend()


def test_loads_offline_from_the_repository_and_installed_packages() -> None:
    code = (
        "from models.minilm import MiniLMBackend; from models.sentences import SentenceSplitter;"
        "b = MiniLMBackend(); SentenceSplitter();"
        "print(b.predict_proba(['great product']).argmax())"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": "/nonexistent",
        "NO_PROXY": "*",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_a_tampered_file_is_refused_naming_it(tmp_path: Path) -> None:
    copy = tmp_path / "artifact"
    shutil.copytree(default_artifact_dir(), copy)
    model = next(copy.glob("*.onnx"))
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ArtifactChecksumError, match=model.name):
        MiniLMBackend(copy)


def test_probabilities_are_distributions(backend: MiniLMBackend) -> None:
    probabilities = backend.predict_proba(["fine", "", "😡😡", "a" * 5000])
    assert probabilities.shape == (4, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_temperature_scaling_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 3000)
    logits = rng.normal(0, 1, (3000, 3))
    logits[np.arange(3000), labels] += 1.0
    overconfident = logits * 4
    temperature = fit_temperature(overconfident, labels)
    assert temperature > 2

    def probabilities(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    before = expected_calibration_error(probabilities(overconfident), labels)
    after = expected_calibration_error(probabilities(overconfident / temperature), labels)
    assert after < before / 2 and after < 0.05


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data (the reference data)")
def test_shipped_temperature_keeps_airline_test_calibrated(backend: MiniLMBackend) -> None:
    """The temperature is fitted on the validation mix (airline, TweetEval, B2B), whose parts
    want different temperatures (for 2026.12.6: airline 1.02, B2B 1.06, TweetEval 1.42; the
    fit is 1.125). On airline test it may cost a little calibration (raw ECE 0.048, with the
    temperature 0.068 for 2026.12.6; 2026.12.5 had 0.041 / 0.041), never a lot."""
    with (SHARED / "airline-tweets" / "test.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    labels = np.array([LABELS.index(row["label"]) for row in rows])
    logits = backend.model.logits([row["text"] for row in rows])[:, backend._columns]

    def probabilities(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    raw = expected_calibration_error(probabilities(logits), labels)
    calibrated = expected_calibration_error(
        probabilities(logits / backend.model.temperature), labels
    )
    assert calibrated <= raw + 0.025
    assert calibrated <= 0.075


def test_challenge_set(backend: MiniLMBackend) -> None:
    with CHALLENGE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    scorer = MessageSentimentScorer(backend, SentenceSplitter())
    predicted = [result.label for result in scorer.score([row["text"] for row in rows])]
    correct = [p == row["label"] for p, row in zip(predicted, rows, strict=True)]
    by_category: dict[str, list[bool]] = {}
    for ok, row in zip(correct, rows, strict=True):
        by_category.setdefault(row["category"], []).append(ok)
    report = {k: f"{sum(v)}/{len(v)}" for k, v in by_category.items()}
    print("challenge set:", report, f"overall {sum(correct)}/{len(correct)}")
    assert sum(correct) / len(correct) >= 0.84, report  # 2026.12.6: 35/38 (11.1: 27/38)


def test_vader_is_available_for_comparison() -> None:
    vader = load_backend("vader")
    assert vader.predict_proba(["I love it", "I hate it"]).argmax(axis=1).tolist() == [2, 0]


def test_torch_weights_rebuild_the_same_model_as_the_onnx_fast_path(
    backend: MiniLMBackend,
) -> None:
    import torch

    from models.sentiment.hf import load_hf_classifier

    texts = [
        "The new release is fantastic",
        "Support never answered, awful",
        "Please send the invoice to finance",
        "meh, it works I guess",
    ]
    model, tokenizer, max_length = load_hf_classifier()
    encoded = tokenizer(
        [normalize_text(t) for t in texts],
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    with torch.inference_mode():
        torch_logits = model(**encoded).logits.numpy()
    onnx_logits = backend.model.logits(texts)
    assert np.abs(torch_logits - onnx_logits).max() < 0.5
    # Labels must agree wherever the fp32 model is clear; "meh, it works I guess" sits on the
    # neutral/positive border, where int8 rounding may tip it either way.
    top2 = np.sort(torch_logits, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1.0
    assert clear.sum() >= 3
    assert (torch_logits.argmax(axis=1) == onnx_logits.argmax(axis=1))[clear].all()
