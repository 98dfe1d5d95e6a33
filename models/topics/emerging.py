"""Emerging topics: clusters of unassigned messages that grew against the previous window.

Input: messages (or sentences) that fit no known topic, with their sentence embeddings (rows
L2-normalised, e.g. from `models.topics.encoder`), texts, timestamps and message ids. Every
function here is pure: no model is loaded, and labelling is delegated to a `label_fn` (in
production `KeyphraseExtractor.label` from `models.topics.keyphrases`).

Rule (`find_emerging`):

1. The current window is [window_end - window, window_end), the previous one the window of
   equal length before it. Items outside both are ignored.
2. The current window's items are clustered with average-linkage agglomerative clustering on
   cosine distance, merging while the linkage distance is below `distance_threshold`;
   clusters smaller than `min_cluster_size` are noise (`cluster_window`).
3. Each cluster's centroid is the re-normalised mean of its members and its radius the largest
   cosine distance of a member from it, at least `min_radius` (default: half of
   `distance_threshold`, so a very tight cluster still catches paraphrases). `previous_size`
   counts the previous window's items within that radius of the centroid.
4. growth = size / max(previous_size, 1). A cluster is reported when size >=
   `min_cluster_size` and growth >= `growth_ratio`, sorted by growth, then size (largest
   first), then label.

Clustering holds all pairwise distances: memory grows with the square of the window's items,
so `cluster_window` refuses more than `max_items` (10,000 by default, about 400 MB); sample
or shorten the window above that.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sklearn.cluster import AgglomerativeClustering

NOISE = -1
MAX_EXAMPLES = 5
LABEL_PHRASES = 3
MAX_ITEMS = 10_000
MAX_KEY_CHARS = 48
MAX_FALLBACK_LABEL_CHARS = 60

LabelFn = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class UnassignedItem:
    """A message or sentence that fits no known topic, with its unit-length embedding."""

    text: str
    embedding: np.ndarray
    at: datetime
    message_id: int | str


@dataclass(frozen=True)
class EmergingCluster:
    """A cluster of the current window that grew against the previous window."""

    label: str
    keyphrases: list[str]
    size: int
    previous_size: int
    growth: float
    centroid: list[float]
    radius: float
    examples: list[str]
    example_message_ids: list[int | str]
    window_start: datetime
    window_end: datetime

    def to_topic_seed(self) -> dict[str, object]:
        """A taxonomy topic draft (key, name, description, examples) a user can promote."""
        phrases = ", ".join(self.keyphrases) or self.label
        description = (
            f"Emerging: {phrases} ({self.size} unassigned messages from "
            f"{self.window_start:%Y-%m-%d} to {self.window_end:%Y-%m-%d}, "
            f"{self.previous_size} in the window before, growth {self.growth:.1f}x)."
        )
        return {
            "key": slugify(self.label),
            "name": self.label,
            "description": description,
            "examples": list(self.examples),
        }


def slugify(label: str) -> str:
    """A topic key from a label: lowercase ASCII words joined by underscores."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    slug = slug[:MAX_KEY_CHARS].rstrip("_")
    return slug or "emerging_topic"


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def cluster_window(
    embeddings: np.ndarray,
    *,
    distance_threshold: float,
    min_cluster_size: int,
    max_items: int = MAX_ITEMS,
) -> np.ndarray:
    """Cluster labels per row: 0, 1, ... by decreasing size; -1 for clusters under min size.

    Average linkage on cosine distance; two clusters merge while their average pairwise
    distance is below `distance_threshold`.
    """
    if min_cluster_size < 1:
        raise ValueError("min_cluster_size must be >= 1")
    if not 0.0 < distance_threshold <= 2.0:
        raise ValueError("distance_threshold must be in (0, 2]")
    matrix = np.asarray(embeddings)
    count = 0 if matrix.size == 0 else matrix.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if count > max_items:
        raise ValueError(f"{count} items exceed max_items={max_items}; sample the window")
    if count == 1:
        raw = np.zeros(1, dtype=np.int64)
    else:
        model = AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="average",
            distance_threshold=distance_threshold,
        )
        raw = model.fit_predict(_unit_rows(matrix)).astype(np.int64)
    ids, first_index, sizes = np.unique(raw, return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-sizes[i], first_index[i]))
    labels = np.full(count, NOISE, dtype=np.int64)
    next_label = 0
    for i in order:
        if sizes[i] >= min_cluster_size:
            labels[raw == ids[i]] = next_label
            next_label += 1
    return labels


def _split_windows(
    items: Sequence[UnassignedItem], window_end: datetime, window: timedelta
) -> tuple[list[UnassignedItem], list[UnassignedItem]]:
    start = window_end - window
    previous_start = start - window
    current = [item for item in items if start <= item.at < window_end]
    previous = [item for item in items if previous_start <= item.at < start]
    return current, previous


def _stack(items: Sequence[UnassignedItem], dimension: int | None = None) -> np.ndarray:
    if not items:
        return np.zeros((0, dimension or 0))
    rows = [np.asarray(item.embedding, dtype=np.float64).ravel() for item in items]
    widths = {row.shape[0] for row in rows}
    if len(widths) != 1 or (dimension is not None and widths != {dimension}):
        raise ValueError(f"embeddings of different lengths: {sorted(widths)}")
    return _unit_rows(np.vstack(rows))


def _label(keyphrases: list[str], closest_text: str) -> str:
    if keyphrases:
        return ", ".join(keyphrases)
    text = " ".join(closest_text.split())
    if len(text) <= MAX_FALLBACK_LABEL_CHARS:
        return text
    return text[: MAX_FALLBACK_LABEL_CHARS - 3].rstrip() + "..."


def _examples(members: list[UnassignedItem], limit: int) -> tuple[list[str], list[int | str]]:
    texts: list[str] = []
    ids: list[int | str] = []
    for item in members:
        if item.text not in texts:
            texts.append(item.text)
            ids.append(item.message_id)
        if len(texts) == limit:
            break
    return texts, ids


def find_emerging(
    items: Sequence[UnassignedItem],
    *,
    window_end: datetime,
    window: timedelta,
    min_cluster_size: int = 5,
    growth_ratio: float = 2.0,
    distance_threshold: float = 0.35,
    min_radius: float | None = None,
    label_fn: LabelFn | None = None,
    label_phrases: int = LABEL_PHRASES,
    max_examples: int = MAX_EXAMPLES,
    max_items: int = MAX_ITEMS,
) -> list[EmergingCluster]:
    """Clusters of the current window that grew by `growth_ratio` (see the module rule).

    `label_fn` gets a cluster's texts, closest to the centroid first, and returns its top
    keyphrases; the label joins the first `label_phrases` of them. Without it (or when it
    returns nothing) the label is the text closest to the centroid, shortened.
    `at` of every item and `window_end` must be all timezone-aware (UTC) or all naive.
    """
    if window <= timedelta(0):
        raise ValueError("window must be positive")
    if growth_ratio <= 0:
        raise ValueError("growth_ratio must be > 0")
    if min_cluster_size < 1:
        raise ValueError("min_cluster_size must be >= 1")
    current, previous = _split_windows(items, window_end, window)
    if len(current) < min_cluster_size:
        return []
    current_matrix = _stack(current)
    previous_matrix = _stack(previous, current_matrix.shape[1])
    labels = cluster_window(
        current_matrix,
        distance_threshold=distance_threshold,
        min_cluster_size=min_cluster_size,
        max_items=max_items,
    )
    floor = distance_threshold / 2 if min_radius is None else min_radius
    found: list[EmergingCluster] = []
    for cluster in range(int(labels.max(initial=NOISE)) + 1):
        member_rows = np.flatnonzero(labels == cluster)
        centroid = _unit_rows(current_matrix[member_rows].mean(axis=0, keepdims=True))[0]
        distances = 1.0 - current_matrix[member_rows] @ centroid
        radius = max(float(distances.max()), floor)
        previous_size = int(np.count_nonzero(1.0 - previous_matrix @ centroid <= radius))
        size = len(member_rows)
        growth = size / max(previous_size, 1)
        if growth < growth_ratio:
            continue
        members = [current[i] for i in member_rows[np.argsort(distances, kind="stable")]]
        keyphrases = label_fn([m.text for m in members])[:label_phrases] if label_fn else []
        examples, example_ids = _examples(members, max_examples)
        found.append(
            EmergingCluster(
                label=_label(keyphrases, members[0].text),
                keyphrases=keyphrases,
                size=size,
                previous_size=previous_size,
                growth=growth,
                centroid=[float(x) for x in centroid],
                radius=radius,
                examples=examples,
                example_message_ids=example_ids,
                window_start=window_end - window,
                window_end=window_end,
            )
        )
    found.sort(key=lambda c: (-c.growth, -c.size, c.label))
    return found
