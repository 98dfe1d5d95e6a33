"""The one way this project opens an ONNX model on the CPU."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def make_session(model: Path | bytes, threads: int) -> ort.InferenceSession:
    """CPU onnxruntime session with `threads` intra-op threads and one inter-op thread, from a
    model file or a serialised model already checked by the caller."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
