"""Sentence features for the sentiment head from the encoder's per-layer token means."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pooled_features(layer_means: np.ndarray, layers: Sequence[int]) -> np.ndarray:
    """(n, 384 * len(layers)) float32: the means of the given layers (1 = first, 12 = last),
    each L2-normalised, side by side."""
    means = np.asarray(layer_means, dtype=np.float32)
    if not layers or min(layers) < 1 or max(layers) > means.shape[1]:
        raise ValueError(f"layers must be within 1..{means.shape[1]}, got {list(layers)}")
    parts = [means[:, layer - 1, :] for layer in layers]
    normed = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in parts]
    return np.concatenate(normed, axis=1)
