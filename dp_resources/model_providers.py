"""onnxruntime execution providers for a profile's `device` (cpu | cuda), named explicitly:
OnnxModel refuses a provider that is not there instead of falling back."""

ONNX_PROVIDERS = {"cpu": ("CPUExecutionProvider",), "cuda": ("CUDAExecutionProvider",)}


def onnx_providers(device: str) -> tuple[str, ...]:
    return ONNX_PROVIDERS[device]
