"""Local ONNX Runtime models, with providers named explicitly and no silent fallback.

Asking for CUDA where it is not available is `DEPENDENCY_MISSING`, never a quiet CPU run;
a missing model file is `MODEL_NOT_FOUND`. Every model reports the `models_used` entry it
serves (weights digest, engine, precision, device).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_resources.models.registry import is_pinned

_DEVICE_OF_PROVIDER = {
    "CPUExecutionProvider": "cpu",
    "CUDAExecutionProvider": "cuda:0",
    "TensorrtExecutionProvider": "cuda:0",
}


class OnnxModel:
    """One ONNX model in an onnxruntime session."""

    def __init__(
        self,
        path: str | Path,
        *,
        name: str,
        version: str,
        providers: tuple[str, ...] = ("CPUExecutionProvider",),
        precision: str = "fp32",
        stand_in: bool = False,
        intra_op_threads: int = 0,
    ):
        path = Path(path)
        if not path.is_file():
            raise DpError(ErrorCode.MODEL_NOT_FOUND, f"model {name}: no file at {path.name}")
        available = ort.get_available_providers()
        missing = [p for p in providers if p not in available]
        if missing:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"model {name}: execution provider {', '.join(missing)} is not available here "
                f"(available: {', '.join(available)}); refusing to fall back",
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.log_severity_level = 3  # errors only: ORT warnings are not actionable here
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=options, providers=list(providers)
            )
        except Exception as exc:  # ORT raises its own untyped errors for bad files
            raise DpError(ErrorCode.MODEL_NOT_FOUND, f"model {name}: cannot load: {exc}") from exc
        # What the session runs on, not what was asked: onnxruntime drops a provider that fails
        # to start (CUDA without its libraries) and runs on the next one, CPU, without error.
        serving = self.session.get_providers()
        if not serving or serving[0] != providers[0]:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"model {name}: asked for {providers[0]} but the session runs on "
                f"{', '.join(serving) or 'nothing'}; refusing to fall back",
            )
        digest = sha256_file(path)
        self.model_used = ModelUsed(
            name=name,
            version=version,
            weights_digest=digest,
            engine="onnxruntime",
            precision=precision,
            device=_DEVICE_OF_PROVIDER.get(serving[0], serving[0]),
            stand_in=stand_in,
            # real only when the digest of what loaded is pinned in the model-family registry
            verified=not stand_in and is_pinned(digest),
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch; outputs by name. Wrong inputs are a bug (INTERNAL); non-finite
        outputs are MODEL_BAD_OUTPUT."""
        unknown = set(inputs) - set(self.input_names)
        if unknown:
            raise DpError(
                ErrorCode.INTERNAL, f"{self.model_used.name}: unknown inputs {sorted(unknown)}"
            )
        outputs = self.session.run(self.output_names, inputs)
        result = dict(zip(self.output_names, outputs, strict=True))
        for output_name, value in result.items():
            if np.issubdtype(np.asarray(value).dtype, np.floating) and not np.isfinite(value).all():
                raise DpError(
                    ErrorCode.MODEL_BAD_OUTPUT,
                    f"{self.model_used.name}: output {output_name} holds NaN or infinity",
                )
        return result


def planned_onnx_model(planned, providers: tuple[str, ...], intra_op_threads: int) -> OnnxModel:
    """The `OnnxModel` of a registry `PlannedModel` (path, name, version, precision): what
    loads is what the manifest's resolved mapping names."""
    return OnnxModel(
        planned.path,
        name=planned.name,
        version=planned.version,
        providers=providers,
        precision=planned.precision,
        intra_op_threads=intra_op_threads,
    )
