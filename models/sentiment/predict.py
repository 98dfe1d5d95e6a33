"""Eval-mode logits of a torch sentiment classifier, shared by training, artifact writing and
adaptation."""

from __future__ import annotations

import numpy as np
import torch

from models.sentiment import data as D
from models.sentiment.inference import pad_batch


def predict_logits(
    model: torch.nn.Module, ids: list[list[int]], batch_size: int = 128
) -> np.ndarray:
    """Eval-mode logits in input order."""
    model.eval()
    out = np.zeros((len(ids), 3), dtype=np.float32)
    with torch.inference_mode():
        for chunk in D.sorted_batches([len(x) for x in ids], batch_size):
            input_ids, mask = pad_batch([ids[i] for i in chunk])
            out[chunk] = model(torch.from_numpy(input_ids), torch.from_numpy(mask)).numpy()
    return out
