"""The one model-runtime interface: local ONNX Runtime (`OnnxModel`) and Triton
(`TritonModel`) both satisfy it, so a component runs the same code on either.

There is no fallback between runtimes: a component gets the runtime its profile names,
and a runtime that cannot serve raises a `DpError` (MODEL_NOT_FOUND, MODEL_UNAVAILABLE,
MODEL_TIMEOUT, MODEL_BAD_OUTPUT, ...) instead of quietly running elsewhere.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from dp_core.artifact import ModelUsed


@runtime_checkable
class ModelRuntime(Protocol):
    """A model that runs one batch of named arrays and reports what served it."""

    model_used: ModelUsed
    """The `models_used` entry of every call (name, version, weights digest, engine,
    precision, device)."""

    input_names: list[str]
    output_names: list[str]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for one batch (the first axis of every input and output is the
        batch). Raises DpError; never returns non-finite floating-point outputs."""
        ...
