"""The sentiment head over frozen e5 embeddings: small dense networks in numpy.

A head is an ensemble of members; each member is a stack of dense layers with ReLU between
them (one layer = logistic regression). Members' logits are averaged, divided by the
calibration temperature and soft-maxed. Weights are stored in one `.npz` (no pickle):
`mean`, `scale` (input standardisation) and `m{member}_w{layer}` / `m{member}_b{layer}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_KEY = re.compile(r"m(\d+)_([wb])(\d+)")


@dataclass(frozen=True)
class DenseHead:
    """Standardise, then the mean logits of the members' dense stacks."""

    mean: np.ndarray
    scale: np.ndarray
    members: tuple[tuple[tuple[np.ndarray, np.ndarray], ...], ...]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(n, classes) mean logits of the members."""
        x = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        if not self.members:
            raise ValueError("the head has no members")
        outputs = []
        for layers in self.members:
            h = x
            for index, (weight, bias) in enumerate(layers):
                h = h @ weight + bias
                if index < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            outputs.append(h)
        return np.mean(outputs, axis=0)

    def save(self, path: Path) -> None:
        """Write the weights as float32 arrays in one npz."""
        arrays: dict[str, np.ndarray] = {
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
        }
        for m, layers in enumerate(self.members):
            for j, (weight, bias) in enumerate(layers):
                arrays[f"m{m}_w{j}"] = np.asarray(weight, dtype=np.float32)
                arrays[f"m{m}_b{j}"] = np.asarray(bias, dtype=np.float32)
        with path.open("wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle as the only keyword

    @classmethod
    def load(cls, path: Path) -> DenseHead:
        """Read a head written by `save` (no pickled objects are accepted)."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        found: dict[int, dict[int, dict[str, np.ndarray]]] = {}
        for key, value in arrays.items():
            match = _KEY.fullmatch(key)
            if match:
                member, kind, layer = int(match[1]), match[2], int(match[3])
                found.setdefault(member, {}).setdefault(layer, {})[kind] = value
        if not found or "mean" not in arrays or "scale" not in arrays:
            raise ValueError(f"{path.name}: not a dense head (mean, scale, m0_w0 ... expected)")
        members = []
        for member in sorted(found):
            layers = found[member]
            members.append(tuple((layers[j]["w"], layers[j]["b"]) for j in sorted(layers)))
        return cls(arrays["mean"], arrays["scale"], tuple(members))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)
