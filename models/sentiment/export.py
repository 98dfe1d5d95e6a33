"""ONNX export of the fine-tuned classifier (output `logits`) and its int8 quantisation."""

from __future__ import annotations

from pathlib import Path

from models.onnx_export import OPSET, quantize_int8
from models.onnx_export import export_fp32 as export_graph
from models.sentiment.modeling import SentimentClassifier

__all__ = ["OPSET", "export_fp32", "quantize_int8"]


def export_fp32(model: SentimentClassifier, path: Path) -> Path:
    """Write the classifier's fp32 ONNX graph (inputs input_ids/attention_mask, output logits)."""
    return export_graph(model, path, "logits")
