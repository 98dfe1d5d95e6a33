"""Fast CPU inference for the shipped sentiment artifact (onnxruntime + tokenizers + numpy only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from models.checksums import file_sha256
from models.onnx_runtime import make_session
from models.sentiment.preprocess import normalize_text

ARTIFACTS_ROOT = Path(__file__).resolve().parent / "artifacts"
DEFAULT_VERSION = "minilm-sent-2026.12.6"


class ArtifactError(RuntimeError):
    """The model artifact folder is missing files or is malformed."""


class ArtifactChecksumError(ArtifactError):
    """A file in the artifact folder does not match the sha256 recorded in its manifest."""

    def __init__(self, filename: str, expected: str, actual: str):
        super().__init__(f"{filename}: sha256 {actual} does not match manifest {expected}")
        self.filename = filename


def read_verified_manifest(artifact_dir: Path) -> dict[str, Any]:
    """manifest.json of an artifact folder, after checking every listed file's sha256."""
    manifest_path = artifact_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ArtifactError(f"no manifest.json in {artifact_dir}")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    for filename, expected in manifest["files"].items():
        path = artifact_dir / filename
        if not path.is_file():
            raise ArtifactError(f"{filename}: listed in manifest but missing")
        actual = file_sha256(path)
        if actual != expected:
            raise ArtifactChecksumError(filename, expected, actual)
    return manifest


@dataclass(frozen=True)
class SentimentPrediction:
    """One calibrated prediction."""

    label: str
    probabilities: dict[str, float]
    score: float


def default_artifact_dir() -> Path:
    """The artifact folder shipped with the repository."""
    return ARTIFACTS_ROOT / DEFAULT_VERSION


def load_tokenizer(path: Path, max_length: int) -> Tokenizer:
    """Tokenizer with truncation at `max_length` and no built-in padding (we pad per batch)."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of already-normalised texts."""
    return [enc.ids for enc in tokenizer.encode_batch(list(texts))]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad a batch to its longest member; returns (input_ids, attention_mask) int64."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def onnx_logits(
    session: ort.InferenceSession, ids: Sequence[Sequence[int]], batch_size: int
) -> np.ndarray:
    """Raw logits for tokenised inputs, run in length-sorted batches and returned in input order."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), 3), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        input_ids, mask = pad_batch([ids[i] for i in chunk])
        feed = {"input_ids": input_ids, "attention_mask": mask}
        out[chunk] = session.run(["logits"], feed)[0]
    return out


class OnnxSentimentModel:
    """Calibrated 3-class sentiment model loaded from a checksummed artifact folder."""

    def __init__(self, artifact_dir: Path, manifest: dict, threads: int):
        self.artifact_dir = artifact_dir
        self.manifest = manifest
        self.version: str = manifest["version"]
        self.labels: list[str] = list(manifest["labels"])
        self.temperature = float(manifest["temperature"])
        self._tokenizer = load_tokenizer(
            artifact_dir / manifest["tokenizer"], int(manifest["max_length"])
        )
        self._session = make_session(artifact_dir / manifest["model_file"], threads)

    @classmethod
    def load(cls, artifact_dir: Path, *, threads: int = 2) -> OnnxSentimentModel:
        """Load after verifying every file listed in manifest.json against its sha256."""
        artifact_dir = Path(artifact_dir)
        return cls(artifact_dir, read_verified_manifest(artifact_dir), threads)

    def logits(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Uncalibrated logits for raw texts (normalised here, as in training)."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        ids = encode_texts(self._tokenizer, [normalize_text(t or "") for t in texts])
        return onnx_logits(self._session, ids, batch_size)

    def predict(self, texts: Sequence[str], *, batch_size: int = 32) -> list[SentimentPrediction]:
        """Calibrated predictions, softmax(logits / temperature), in input order."""
        z = self.logits(texts, batch_size=batch_size).astype(np.float64) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        probs = np.exp(z)
        probs /= probs.sum(axis=1, keepdims=True)
        neg, pos = self.labels.index("negative"), self.labels.index("positive")
        return [
            SentimentPrediction(
                label=self.labels[int(p.argmax())],
                probabilities={lab: float(v) for lab, v in zip(self.labels, p, strict=True)},
                score=float(np.clip(p[pos] - p[neg], -1.0, 1.0)),
            )
            for p in probs
        ]
