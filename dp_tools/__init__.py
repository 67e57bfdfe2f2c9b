"""Offline model tooling (TFJS -> ONNX, stand-in builders, NanoDet preparation, hub pull and
export, quantization, TensorRT, Triton repositories): writes model folders. Installed with
the `[tools]` extra and absent from the runtime image; it uses the runtime (dp_core,
dp_features, dp_resources), the runtime never uses it (tests/unit/test_layers.py)."""
