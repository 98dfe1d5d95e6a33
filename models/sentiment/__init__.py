"""Three-class sentiment classifier: training, calibration, ONNX export and inference."""
