"""A bounded, thread-safe LRU of sentence embeddings keyed by the encoder's token ids.

The key is what the model actually reads: the word-piece ids after the tokenizer's
normalisation (lower-casing, accent stripping, whitespace) and truncation, so "Thanks  for
the QUICK fix" and "thanks for the quick fix" share one entry and a changed tokenizer cannot
return a stale vector. One cache belongs to one encoder instance (a new encoder artifact gets a
new, empty cache); the taxonomy plays no part in an embedding, so a taxonomy change keeps it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

TokenKey = tuple[int, ...]


class EmbeddingCache:
    """At most `capacity` embeddings; the least recently used entry goes first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[TokenKey, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def get_many(self, keys: Sequence[TokenKey]) -> list[np.ndarray | None]:
        """The stored vector of each key (a read-only view), or None; hits become most recent."""
        found: list[np.ndarray | None] = []
        with self._lock:
            for key in keys:
                row = self._rows.get(key)
                if row is not None:
                    self._rows.move_to_end(key)
                found.append(row)
            hits = sum(row is not None for row in found)
            self.hits += hits
            self.misses += len(keys) - hits
        return found

    def put_many(self, keys: Sequence[TokenKey], rows: np.ndarray) -> None:
        """Store one row per key, evicting the least recently used beyond capacity."""
        if self.capacity == 0:
            return
        with self._lock:
            for key, row in zip(keys, rows, strict=True):
                stored = np.array(row, dtype=np.float32)
                stored.flags.writeable = False
                self._rows[key] = stored
                self._rows.move_to_end(key)
            while len(self._rows) > self.capacity:
                self._rows.popitem(last=False)

    def embed_through(
        self,
        keys: Sequence[TokenKey],
        dimension: int,
        compute: Callable[[list[TokenKey]], np.ndarray],
    ) -> np.ndarray:
        """(len(keys), dimension) rows in key order: cached rows as stored, the others from one
        `compute` call over the distinct missing keys (then stored)."""
        out = np.zeros((len(keys), dimension), dtype=np.float32)
        missing: dict[TokenKey, list[int]] = {}
        for index, (key, row) in enumerate(zip(keys, self.get_many(keys), strict=True)):
            if row is None:
                missing.setdefault(key, []).append(index)
            else:
                out[index] = row
        if missing:
            fresh = list(missing)
            vectors = compute(fresh)
            for key, vector in zip(fresh, vectors, strict=True):
                out[missing[key]] = vector
            self.put_many(fresh, vectors)
        return out

    def clear(self) -> None:
        """Drop every entry and reset the hit counters."""
        with self._lock:
            self._rows.clear()
            self.hits = self.misses = 0
