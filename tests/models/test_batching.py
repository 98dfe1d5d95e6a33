"""Training batches: every row once per epoch, similar lengths together, padded."""

from __future__ import annotations

import random

import numpy as np

from models.sentiment.data import bucketed_batches
from models.sentiment.inference import pad_batch


def test_every_row_once_in_batches_of_similar_length() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(3, 90) for _ in range(5000)]
    batches = list(bucketed_batches(lengths, 32, np.random.default_rng(13)))
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(5000))
    assert all(len(batch) <= 32 for batch in batches)
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert sum(spread) / len(spread) < 10  # random batches of 32 would spread ~80
    assert batches == list(bucketed_batches(lengths, 32, np.random.default_rng(13)))  # seeded


def test_batch_pads_and_masks() -> None:
    ids, mask = pad_batch([[0, 5, 2], [0, 2]], pad_id=1)
    assert ids.tolist() == [[0, 5, 2], [0, 2, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
