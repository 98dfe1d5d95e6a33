"""The one way this project opens an ONNX model on the CPU."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def make_session(model_path: Path, threads: int) -> ort.InferenceSession:
    """CPU onnxruntime session with `threads` intra-op threads and one inter-op thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
