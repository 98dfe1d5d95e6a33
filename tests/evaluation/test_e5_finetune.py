"""The LoRA trial's batching: every row once per epoch, similar lengths together, padded."""

from __future__ import annotations

import random

from evaluation.e5_finetune import _batch, _length_bucketed


def test_every_row_once_in_batches_of_similar_length() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(3, 90) for _ in range(5000)]
    batches = _length_bucketed(lengths, 32, random.Random(13))
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(5000))
    assert all(len(batch) <= 32 for batch in batches)
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert sum(spread) / len(spread) < 10  # random batches of 32 would spread ~80
    assert batches == _length_bucketed(lengths, 32, random.Random(13))  # seeded


def test_batch_pads_and_masks() -> None:
    ids, mask = _batch([[0, 5, 2], [0, 2]], pad=1)
    assert ids.tolist() == [[0, 5, 2], [0, 2, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
