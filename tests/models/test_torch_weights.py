"""Compact fp16 storage of the fine-tuned weights rebuilds the model from the base encoder."""

from __future__ import annotations

from pathlib import Path

import torch

from models.sentiment.torch_weights import (
    ROW_INDEX,
    WORD_EMBEDDINGS,
    compact_state,
    expand_state,
    load_compact,
    save_compact,
)


def test_round_trip_keeps_changed_rows_and_restores_the_rest(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    base = {
        WORD_EMBEDDINGS: torch.randn(50, 8, generator=generator),
        "encoder.other": torch.randn(4, 4, generator=generator),
    }
    tuned = {name: tensor.clone() for name, tensor in base.items()}
    tuned[WORD_EMBEDDINGS][[3, 17]] += 0.5
    tuned[WORD_EMBEDDINGS][5] += 1e-5  # below tolerance: restored from the base
    tuned["encoder.other"] += 0.25
    tuned["head.weight"] = torch.randn(3, 8, generator=generator)
    path = save_compact(compact_state(tuned, base), tmp_path / "w.safetensors")
    compact = load_compact(path)
    assert compact[ROW_INDEX].tolist() == [3, 17]
    rebuilt = expand_state(compact, base)
    assert set(rebuilt) == set(tuned)
    for name, tensor in tuned.items():
        assert rebuilt[name].dtype == torch.float32
        assert torch.allclose(rebuilt[name], tensor, atol=2e-3), name
    assert torch.equal(rebuilt[WORD_EMBEDDINGS][5], base[WORD_EMBEDDINGS][5])
