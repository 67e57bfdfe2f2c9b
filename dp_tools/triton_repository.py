"""Write Triton model repositories from `model_repository/` and ONNX files.

`model_repository/<name>/config.pbtxt` (committed) holds each model's production
configuration: `backend: "onnxruntime"`, batching, GPU instance group, inputs and outputs,
and `parameters` describing the weights (`source_name`, `source_version`, `precision`).
Weights are never committed. Two writers fill a repository from it:

- `export_repository`: production. Copies each config with the `weights_digest` parameter
  (sha256 of the file as served) and the ONNX file as `<version>/model.onnx`.
- `build_cpu_test_repository`: the CPU test double for the server inside `nvidia-pytriton`,
  which has the Python backend only. Same name, inputs, outputs, batching and parameters,
  but `backend: "python"`, one `KIND_CPU` instance and a `model.py` that runs `model.onnx`
  with onnxruntime on the CPU, one merged batch per execution. Clients see the same API.

`TritonModel` (dp_resources/models/triton_runtime.py) reads the parameters back through Triton's
config API to fill its `models_used` entry. Configs are parsed and written with Triton's
own protobuf schema (`tritonclient.grpc.model_config_pb2`), so a typo fails here, not in
the server's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_resources.models.triton_runtime import (
    HOW_TO_EXPORT,
    PARAM_INTRA_OP_THREADS,
    PARAM_SOURCE_ENGINE,
    PARAM_WEIGHTS_DIGEST,
)
from dp_resources.models.triton_runtime import PARAM_PRECISION as PARAM_PRECISION
from dp_resources.models.triton_runtime import PARAM_SOURCE_NAME as PARAM_SOURCE_NAME
from dp_resources.models.triton_runtime import PARAM_SOURCE_VERSION as PARAM_SOURCE_VERSION
from dp_resources.models.triton_runtime import PARAM_STAND_IN as PARAM_STAND_IN
from dp_resources.storage.atomic_files import publish_copy, publish_text

CONFIG_FILE = "config.pbtxt"
ONNX_FILE = "model.onnx"
PYTHON_MODEL_FILE = "model.py"
DEFAULT_REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"

# The `parameters` keys (PARAM_*) are the ones TritonModel reads back: triton_runtime.py.


def read_config(path: Path) -> model_config_pb2.ModelConfig:
    """Parse one `config.pbtxt` with Triton's schema; CONFIG_INVALID when it does not parse."""
    try:
        return text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())
    except FileNotFoundError as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"no Triton config at {path}; {HOW_TO_EXPORT}"
        ) from exc
    except (OSError, text_format.ParseError) as exc:
        raise DpError(ErrorCode.CONFIG_INVALID, f"cannot read Triton config {path}: {exc}") from exc


def config_text(config: model_config_pb2.ModelConfig, header: str) -> str:
    """The config in protobuf text format, after a `#` comment header."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + text_format.MessageToString(config)


def export_repository(
    source_repo: Path,
    onnx_files: Mapping[str, Path],
    target: Path,
    *,
    weights_digests: Mapping[str, str] | None = None,
    parameters: Mapping[str, Mapping[str, str]] | None = None,
    version: int = 1,
) -> Path:
    """Write a production Triton repository (onnxruntime backend) at `target`.

    For each `name -> onnx file`: `target/<name>/config.pbtxt` is the production config
    from `source_repo/<name>/` with `weights_digest` set (from `weights_digests[name]`,
    else the sha256 of the file) and any `parameters[name]` entries (e.g. `precision`,
    `source_version` of this export), and `target/<name>/<version>/model.onnx` the file.
    `target` may be `source_repo` itself (the config then gains the digest in place).
    Each file is replaced atomically; models not named are left alone. Returns `target`.
    """
    target = Path(target)
    for name, onnx_file in onnx_files.items():
        config = _source_config(Path(source_repo), name)
        digest = (weights_digests or {}).get(name) or _onnx_digest(name, Path(onnx_file))
        _set_parameters(config, {**(parameters or {}).get(name, {}), PARAM_WEIGHTS_DIGEST: digest})
        model_dir = target / name
        _atomic_copy(Path(onnx_file), model_dir / str(version) / ONNX_FILE)
        header = (
            f"Written by dp models export from model_repository/{name}/{CONFIG_FILE}.\n"
            f"Weights: {version}/{ONNX_FILE}, sha256 {digest}."
        )
        _atomic_write(model_dir / CONFIG_FILE, config_text(config, header))
    return target


def build_cpu_test_repository(
    source_repo: Path,
    onnx_files: Mapping[str, Path],
    target: Path,
    *,
    parameters: Mapping[str, Mapping[str, str]] | None = None,
    intra_op_threads: int = 0,
    instance_count: int = 1,
) -> Path:
    """Write a repository the CPU-only `tritonserver` of `nvidia-pytriton` can serve.

    For each `name -> onnx file`: the production config of `source_repo/<name>/` turned
    into a Python-backend model (`backend: "python"`, `instance_count` x `KIND_CPU`; same
    name, inputs, outputs, batching and parameters; `weights_digest` = sha256 of the file;
    `source_engine` = the production backend; extra `parameters[name]`), plus
    `1/model.onnx` and `1/model.py` (onnxruntime, CPU, `intra_op_threads` threads, 0 =
    onnxruntime's default). Returns `target`.
    """
    target = Path(target)
    for name, onnx_file in onnx_files.items():
        config = _source_config(Path(source_repo), name)
        production_engine = config.backend or config.platform
        config.backend = "python"
        config.platform = ""
        config.default_model_filename = ""
        config.ClearField("optimization")  # GPU accelerators (TensorRT) mean nothing here
        del config.instance_group[:]
        config.instance_group.add(
            kind=model_config_pb2.ModelInstanceGroup.KIND_CPU, count=instance_count
        )
        _set_parameters(
            config,
            {
                **(parameters or {}).get(name, {}),
                PARAM_WEIGHTS_DIGEST: _onnx_digest(name, Path(onnx_file)),
                PARAM_SOURCE_ENGINE: production_engine,
                PARAM_INTRA_OP_THREADS: str(intra_op_threads),
            },
        )
        model_dir = target / name
        _atomic_copy(Path(onnx_file), model_dir / "1" / ONNX_FILE)
        _atomic_write(model_dir / "1" / PYTHON_MODEL_FILE, PYTHON_BACKEND_MODEL)
        header = (
            f"CPU TEST DOUBLE of model_repository/{name}/{CONFIG_FILE} "
            f"(production backend: {production_engine}).\n"
            "Python backend running 1/model.onnx with onnxruntime on the CPU."
        )
        _atomic_write(model_dir / CONFIG_FILE, config_text(config, header))
    return target


def _source_config(source_repo: Path, name: str) -> model_config_pb2.ModelConfig:
    config = read_config(source_repo / name / CONFIG_FILE)
    if config.name and config.name != name:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"{source_repo / name / CONFIG_FILE} names the model {config.name!r}, "
            f"but its folder is {name!r}: Triton refuses such a model",
        )
    config.name = name
    return config


def _set_parameters(config: model_config_pb2.ModelConfig, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        config.parameters[key].string_value = str(value)


def _onnx_digest(name: str, path: Path) -> str:
    if not path.is_file():
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"model {name}: no ONNX file at {path}")
    return sha256_file(path)


def _atomic_write(path: Path, text: str) -> None:
    """Readers (a Triton server polling its repository) never see half a file."""
    try:
        publish_text(path, text)
    except OSError as exc:
        raise DpError(ErrorCode.STORAGE_ERROR, f"cannot write {path}: {exc}") from exc


def _atomic_copy(source: Path, path: Path) -> None:
    if source.resolve() == path.resolve():
        return
    try:
        publish_copy(source, path)
    except OSError as exc:
        raise DpError(ErrorCode.STORAGE_ERROR, f"cannot write {path}: {exc}") from exc


# The Python-backend model of the CPU test double. It runs inside the Triton server's own
# Python (`.venv-triton`: numpy 1.26, onnxruntime), never in the platform's venv.
PYTHON_BACKEND_MODEL = '''\
"""CPU TEST DOUBLE (written by dp_tools/triton_repository.py): runs model.onnx with
onnxruntime on the CPU. All requests of one execution (as merged by Triton's dynamic
batcher) are concatenated along the batch axis and run as one batch."""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(parameters.get("__THREADS_PARAMETER__", "0"))
        options.log_severity_level = 3
        path = os.path.join(args["model_repository"], args["model_version"], "__ONNX_FILE__")
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i["name"] for i in config["input"]]
        self.output_names = [o["name"] for o in config["output"]]
        self.batched = config.get("max_batch_size", 0) > 0

    def execute(self, requests):
        if not self.batched:  # no batch axis: nothing to merge
            return [self._run_requests([r])[0] for r in requests]
        return self._run_requests(requests)

    def _run_requests(self, requests):
        batches = [
            {n: pb_utils.get_input_tensor_by_name(r, n).as_numpy() for n in self.input_names}
            for r in requests
        ]
        sizes = [len(b[self.input_names[0]]) for b in batches]
        merged = {n: np.concatenate([b[n] for b in batches]) for n in self.input_names}
        outputs = self.session.run(self.output_names, merged)
        responses, start = [], 0
        for size in sizes:
            tensors = [
                pb_utils.Tensor(n, np.ascontiguousarray(o[start : start + size]))
                for n, o in zip(self.output_names, outputs)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses
'''.replace("__THREADS_PARAMETER__", PARAM_INTRA_OP_THREADS).replace("__ONNX_FILE__", ONNX_FILE)
