"""One CPU session factory for every ONNX model (issue 21)."""

from __future__ import annotations

from models import onnx_runtime
from models.sentiment import inference
from models.topics import encoder, export_encoder
from models.topics.encoder import default_encoder_dir


def test_sentiment_and_topic_models_share_one_session_factory() -> None:
    assert inference.make_session is onnx_runtime.make_session
    assert encoder.make_session is onnx_runtime.make_session
    assert export_encoder.make_session is onnx_runtime.make_session


def test_session_uses_the_requested_threads_on_the_cpu() -> None:
    session = onnx_runtime.make_session(default_encoder_dir() / "model.int8.onnx", 1)
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert session.get_session_options().intra_op_num_threads == 1
    assert session.get_session_options().inter_op_num_threads == 1
