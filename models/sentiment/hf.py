"""The fine-tuned classifier as a Hugging Face `PreTrainedModel`, for `transformers.pipeline`.

Used by the speed benchmark (the baseline a transformers user would run) and by anyone who
wants the torch fp32 model; the service itself uses the int8 ONNX fast path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoTokenizer, BertConfig, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from models.checksums import file_sha256
from models.sentiment.inference import ArtifactChecksumError, default_artifact_dir
from models.sentiment.modeling import minilm_path
from models.sentiment.torch_weights import WEIGHTS_FILE, base_state, expand_state, load_compact


class MeanPoolingSentimentModel(BertPreTrainedModel):
    """BERT encoder, attention-masked mean pooling and a linear head (as trained)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        if config.num_labels is None:
            raise ValueError("the model config names no labels (num_labels)")
        self.head = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        **_: Any,
    ) -> SequenceClassifierOutput:
        """Logits of shape (batch, num_labels)."""
        if input_ids is None:
            raise ValueError("input_ids is required")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        states = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return SequenceClassifierOutput(logits=self.head(self.dropout(pooled)))


def load_hf_classifier(
    artifact_dir: Path | None = None,
) -> tuple[MeanPoolingSentimentModel, Any, int]:
    """(model in eval mode, tokenizer, max_length) rebuilt from the base package + artifact."""
    artifact_dir = artifact_dir or default_artifact_dir()
    manifest = json.loads((artifact_dir / "manifest.json").read_text(encoding="utf-8"))
    base_dir = minilm_path()  # verifies the base encoder's checksum
    labels = list(manifest["labels"])
    config = BertConfig.from_pretrained(
        str(base_dir),
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        local_files_only=True,
    )
    weights = artifact_dir / WEIGHTS_FILE
    expected = manifest["files"].get(WEIGHTS_FILE)
    if expected is None or file_sha256(weights) != expected:
        raise ArtifactChecksumError(WEIGHTS_FILE, str(expected), file_sha256(weights))
    model = MeanPoolingSentimentModel(config)
    state = expand_state(load_compact(weights), base_state(base_dir))
    state = {k: v for k, v in state.items() if not k.startswith("encoder.pooler.")}  # unused
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed = {"encoder.embeddings.position_ids"}
    if set(missing) - allowed or set(unexpected) - allowed:
        raise RuntimeError(f"weights do not fit the model: missing {missing}, extra {unexpected}")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    return model, tokenizer, int(manifest["max_length"])
