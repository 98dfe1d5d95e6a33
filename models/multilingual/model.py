"""The multilingual sentiment model: frozen e5 features + a calibrated dense head.

The features are the L2-normalised token means of some of the encoder's layers, side by side
(`manifest["encoder"]["layers"]`). The artifact folder holds `head.npz`, `manifest.json`
(files and their sha256, labels, temperature, languages, encoder checksum and layers, metrics)
and `MODEL_CARD.md`. Loading verifies every listed file and the encoder before anything is
used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.backends import LABELS
from models.multilingual.features import pooled_features
from models.multilingual.head import DenseHead, softmax
from models.multilingual.onnx_encoder import OnnxE5Encoder, shared_encoder
from models.sentiment.inference import ArtifactError, read_verified_manifest
from models.sentiment.preprocess import normalize_text

ARTIFACTS_ROOT = Path(__file__).resolve().parent / "artifacts"
DEFAULT_VERSION = "e5-sent-2026.12.2"
HEAD_FILE = "head.npz"


def default_artifact_dir() -> Path:
    """The multilingual head shipped with the repository."""
    return ARTIFACTS_ROOT / DEFAULT_VERSION


def read_manifest(artifact_dir: Path) -> dict[str, Any]:
    """manifest.json of an artifact folder after checking every listed file's sha256."""
    return read_verified_manifest(artifact_dir)


class MultilingualSentimentModel:
    """Calibrated probabilities over LABELS for text in the languages of its manifest.

    Implements the ProbabilityModel protocol of models.message_sentiment (and the
    SentimentBackend protocol of models.backends, under the name `e5-multilingual-raw`).
    """

    name = "e5-multilingual-raw"

    def __init__(
        self,
        artifact_dir: Path | None = None,
        *,
        threads: int = 2,
        encoder: OnnxE5Encoder | None = None,
    ) -> None:
        self.artifact_dir = Path(artifact_dir or default_artifact_dir())
        self.manifest = read_manifest(self.artifact_dir)
        self.version: str = self.manifest["version"]
        self.max_length = int(self.manifest["max_length"])
        self.temperature = float(self.manifest["temperature"])
        self.languages: frozenset[str] = frozenset(self.manifest["languages"])
        labels = list(self.manifest["labels"])
        self._columns = [labels.index(label) for label in LABELS]
        self.encoder = encoder or shared_encoder(threads, self.manifest["encoder"]["prefix"])
        if self.encoder.checksum != self.manifest["encoder"]["sha256"]:
            raise ArtifactError(
                f"head {self.version} was trained on encoder weights "
                f"{self.manifest['encoder']['sha256'][:12]}, loaded {self.encoder.checksum[:12]}"
            )
        if self.encoder.prefix != self.manifest["encoder"]["prefix"]:
            raise ArtifactError(
                f"head {self.version} expects the {self.manifest['encoder']['prefix']!r} prefix"
            )
        self.layers: list[int] = [int(layer) for layer in self.manifest["encoder"]["layers"]]
        self.head = DenseHead.load(self.artifact_dir / self.manifest["head_file"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The head's input features; texts are normalised exactly as in training."""
        means = self.encoder.layer_means([normalize_text(text or "") for text in texts])
        return pooled_features(means, self.layers)

    def probabilities_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, 3) calibrated probabilities, columns in LABELS order."""
        if len(embeddings) == 0:
            return np.zeros((0, len(LABELS)))
        return softmax(self.head.logits(embeddings), self.temperature)[:, self._columns]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) calibrated probabilities; each distinct text is embedded once."""
        unique = list(dict.fromkeys(texts))
        if not unique:
            return np.zeros((0, len(LABELS)))
        probabilities = self.probabilities_from_embeddings(self.embed(unique))
        row = {text: i for i, text in enumerate(unique)}
        return probabilities[[row[text] for text in texts]]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text (prefix and special tokens included)."""
        return self.encoder.token_counts([normalize_text(text or "") for text in texts])

    def reads(self, language: str | None) -> bool:
        """Whether `language` (an ISO 639-1 code, region suffix allowed) is one it was
        trained and validated on."""
        return bool(language) and base_language(language) in self.languages


def base_language(language: str | None) -> str:
    """'pt-BR' -> 'pt'; None or blank -> '' (unknown)."""
    return (language or "").strip().replace("_", "-").split("-")[0].lower()
