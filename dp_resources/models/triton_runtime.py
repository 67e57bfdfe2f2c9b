"""A model served by a Triton Inference Server, through `tritonclient` (gRPC or HTTP).

`TritonModel` satisfies `ModelRuntime` (dp_resources/models/runtime.py), like the local
`OnnxModel`. When it is built it checks, in order, that the server is live and ready, that
the repository holds the model, and that the model (and version) is ready; then it reads
the model's config and metadata once: inputs, outputs, `max_batch_size`, backend, instance
group, and the `parameters` our exporter records (dp_tools/triton_repository.py):
`weights_digest`, `precision`, `source_name`, `source_version`, `stand_in`.

There is no fallback to local inference, ever: every failure is a `DpError` naming the
server URL and the model:

| what happened                                         | code              | transient |
|-------------------------------------------------------|-------------------|-----------|
| connection refused or reset, server not live/ready    | MODEL_UNAVAILABLE | yes       |
| model in the repository but not ready (loading,       | MODEL_UNAVAILABLE | yes       |
|   failed to load, unloaded since start)               |                   |           |
| model (or the asked version) not in the repository    | MODEL_NOT_FOUND   | no        |
| config without `weights_digest` (not our export)      | MODEL_NOT_FOUND   | no        |
| no answer within `timeout_s` (deadline exceeded)      | MODEL_TIMEOUT     | yes       |
|   (then this process does not ask the server again   |                   |           |
|   for SILENT_SERVER_BACKOFF_S, or only that model if  |                   |           |
|   the server still answers `live`: calls fail at once)|                   |           |
| the model failed on the server, or answered with a    | MODEL_BAD_OUTPUT  | no        |
|   missing output, wrong dtype or shape, NaN/infinity  |                   |           |
| inputs that do not match the model's config           | INTERNAL          | no (a bug)|

Why a missing model is MODEL_NOT_FOUND and an unready one MODEL_UNAVAILABLE: the
repository index is the server's own list of what it can serve. A name absent from it
will not appear by retrying (someone has to export the model), so the job fails at once
with how to fix it; a model that is listed but not ready is loading, reloading or
failed on this server, which a retry (or a restart of the server) can change.

Inputs larger than `max_batch_size` are split into several requests. Each thread uses
its own client (tritonclient's clients are not thread-safe), so one `TritonModel` can
serve several worker threads, whose requests Triton's dynamic batcher merges.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype, triton_to_np_dtype

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_resources.models.registry import is_pinned

Protocol = Literal["grpc", "http"]
SILENT_SERVER_BACKOFF_S = 30.0
# (server URL, model name or None for the whole server) -> monotonic time until which it is
# not asked again
_silent_until: dict[tuple[str, str | None], float] = {}
_silent_lock = threading.Lock()

# `parameters` keys of a served model's config (all strings, as Triton's config API returns
# them), written by the exporter (dp_tools/triton_repository.py).
PARAM_WEIGHTS_DIGEST = "weights_digest"
PARAM_PRECISION = "precision"
PARAM_SOURCE_NAME = "source_name"
PARAM_SOURCE_VERSION = "source_version"
PARAM_SOURCE_ENGINE = "source_engine"  # the production backend a CPU test double stands for
PARAM_STAND_IN = "stand_in"  # "true" for random-weight test models
PARAM_INTRA_OP_THREADS = "onnxruntime_intra_op_threads"  # CPU test double only

HOW_TO_EXPORT = "run `dp models export` to write the model into the Triton repository"

_DEVICE_OF_KIND = {"KIND_GPU": "cuda", "KIND_CPU": "cpu"}
_TIMEOUT_STATUSES = {"StatusCode.DEADLINE_EXCEEDED", "504"}
_UNAVAILABLE_STATUSES = {"StatusCode.UNAVAILABLE", "StatusCode.NOT_FOUND", "404", "503"}
_BAD_REQUEST_STATUSES = {"StatusCode.INVALID_ARGUMENT"}
_JSON_METHODS = {"get_model_config", "get_model_metadata", "get_model_repository_index"}


class TritonModel:
    """One model (one version) on a Triton server; see the module docstring."""

    def __init__(
        self,
        url: str,
        model_name: str,
        *,
        protocol: Protocol = "grpc",
        model_version: str = "",
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
    ):
        """`url`: `host:port` of the server's gRPC or HTTP endpoint (a `grpc://` or
        `http://` prefix is accepted); `model_version`: "" for the newest version the
        server serves; `timeout_s`: the longest one request may take, seconds;
        `connect_timeout_s`: for connecting and for the start-up checks, seconds."""
        if protocol not in ("grpc", "http"):
            raise DpError(ErrorCode.CONFIG_INVALID, f"Triton protocol {protocol!r}: grpc | http")
        if timeout_s <= 0 or connect_timeout_s <= 0:
            raise DpError(ErrorCode.CONFIG_INVALID, "Triton timeouts must be > 0 s")
        self.url = url.split("://", 1)[-1].rstrip("/")
        self.model_name = model_name
        self.protocol: Protocol = protocol
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self._where = f"Triton model {model_name!r} at {protocol}://{self.url}"
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()

        self.model_version = self._check_ready(model_version)
        config = self._control("get_model_config", model_name, self.model_version)
        config = config.get("config", config)  # gRPC's JSON wraps it; HTTP's does not
        self.max_batch_size = int(config.get("max_batch_size", 0))
        self._inputs = _tensor_specs(config.get("input", []))
        self._outputs = _tensor_specs(config.get("output", []))
        self.input_names = list(self._inputs)
        self.output_names = list(self._outputs)
        self.model_used = self._model_used(config)

    # --- start-up checks -------------------------------------------------------------

    def _check_ready(self, model_version: str) -> str:
        """The version to serve, after checking server, repository and model; raises."""
        if not self._control("is_server_live"):
            raise DpError(ErrorCode.MODEL_UNAVAILABLE, f"{self._where}: the server is not live")
        if not self._control("is_server_ready"):
            raise DpError(
                ErrorCode.MODEL_UNAVAILABLE,
                f"{self._where}: the server is live but not ready (loading or shutting down)",
            )
        index = self._control("get_model_repository_index")
        index = index.get("models", []) if isinstance(index, dict) else index
        entries = [e for e in index if e.get("name") == self.model_name]
        if not entries:
            served = sorted({e.get("name", "?") for e in index})
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"{self._where}: the server's repository has no such model "
                f"(it has: {', '.join(served) or 'none'}); {HOW_TO_EXPORT}",
            )
        if model_version and not any(e.get("version") == model_version for e in entries):
            listed = sorted(e.get("version", "?") for e in entries)
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"{self._where}: no version {model_version} in the repository "
                f"(versions: {', '.join(listed)}); {HOW_TO_EXPORT}",
            )
        if not self._control("is_model_ready", self.model_name, model_version):
            states = "; ".join(
                f"version {e.get('version', '?')}: {e.get('state', '?')} {e.get('reason', '')}"
                for e in entries
            )
            raise DpError(
                ErrorCode.MODEL_UNAVAILABLE,
                f"{self._where}: the model is not ready ({states.strip()})",
            )
        if model_version:
            return model_version
        metadata = self._control("get_model_metadata", self.model_name)
        versions = [str(v) for v in metadata.get("versions", [])]
        if not versions:
            raise DpError(ErrorCode.MODEL_UNAVAILABLE, f"{self._where}: no version is served")
        return max(versions, key=int)

    def _model_used(self, config: dict) -> ModelUsed:
        parameters = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        digest = parameters.get(PARAM_WEIGHTS_DIGEST, "")
        if not digest:
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"{self._where}: its config records no {PARAM_WEIGHTS_DIGEST!r} parameter, so "
                f"what it serves cannot be named; {HOW_TO_EXPORT}",
            )
        kinds = sorted({g.get("kind", "KIND_AUTO") for g in config.get("instance_group", [])})
        device = "+".join(_DEVICE_OF_KIND.get(k, k.removeprefix("KIND_").lower()) for k in kinds)
        engine = config.get("backend") or config.get("platform") or "unknown"
        stand_in = parameters.get(PARAM_STAND_IN, "").lower() == "true"
        return ModelUsed(
            name=parameters.get(PARAM_SOURCE_NAME) or self.model_name,
            version=parameters.get(PARAM_SOURCE_VERSION) or self.model_version,
            weights_digest=digest,
            engine=f"triton:{engine}",
            precision=parameters.get(PARAM_PRECISION) or "fp32",
            device=device or "auto",
            stand_in=stand_in,
            verified=not stand_in and is_pinned(digest),  # real: its digest is pinned
        )

    # --- inference -------------------------------------------------------------------

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for one batch, in requests of at most `max_batch_size` items.
        Inputs that do not match the config are a caller bug (INTERNAL)."""
        arrays = self._checked_inputs(inputs)
        if self.max_batch_size == 0:  # copies: tritonclient's arrays are read-only views
            return {n: v.copy() for n, v in self._infer(arrays, batch=None).items()}
        batch = len(next(iter(arrays.values())))
        if batch == 0:
            return {
                name: np.zeros((0, *(max(d, 0) for d in dims)), dtype)
                for name, (dtype, dims) in self._outputs.items()
            }
        parts = [
            self._infer(
                {n: a[start : start + self.max_batch_size] for n, a in arrays.items()},
                batch=min(self.max_batch_size, batch - start),
            )
            for start in range(0, batch, self.max_batch_size)
        ]
        return {name: np.concatenate([p[name] for p in parts]) for name in self.output_names}

    def _checked_inputs(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        unknown, missing = set(inputs) - set(self._inputs), set(self._inputs) - set(inputs)
        if unknown or missing:
            raise DpError(
                ErrorCode.INTERNAL,
                f"{self._where}: unknown inputs {sorted(unknown)}, missing {sorted(missing)}",
            )
        arrays, batches = {}, set()
        for name, (dtype, dims) in self._inputs.items():
            array = np.ascontiguousarray(inputs[name])
            item_shape = array.shape[1:] if self.max_batch_size else array.shape
            if array.dtype != dtype or not _shape_matches(item_shape, dims):
                raise DpError(
                    ErrorCode.INTERNAL,
                    f"{self._where}: input {name} is {array.dtype} {list(array.shape)}, the "
                    f"model takes {dtype} {['batch'] if self.max_batch_size else []}{dims}",
                )
            arrays[name] = array
            batches.add(len(array) if self.max_batch_size else 0)
        if len(batches) > 1:
            raise DpError(ErrorCode.INTERNAL, f"{self._where}: inputs differ in batch size")
        return arrays

    def _infer(self, arrays: dict[str, np.ndarray], batch: int | None) -> dict[str, np.ndarray]:
        module = grpcclient if self.protocol == "grpc" else httpclient
        request = []
        for name, array in arrays.items():
            tensor = module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            request.append(tensor)
        wanted = [module.InferRequestedOutput(name) for name in self.output_names]
        options: dict[str, Any] = {"model_version": self.model_version, "outputs": wanted}
        if self.protocol == "grpc":
            options["client_timeout"] = self.timeout_s
        result = self._call(lambda c: c.infer(self.model_name, request, **options), "inference")
        return {name: self._checked_output(result, name, batch) for name in self.output_names}

    def _checked_output(self, result: Any, name: str, batch: int | None) -> np.ndarray:
        dtype, dims = self._outputs[name]
        value = result.as_numpy(name)
        expected = dims if batch is None else [batch, *dims]
        if value is None:
            problem = "is missing from the answer"
        elif value.dtype != dtype or not _shape_matches(value.shape, expected):
            problem = f"is {value.dtype} {list(value.shape)}, expected {dtype} {expected}"
        elif np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            problem = "holds NaN or infinity"
        else:
            return value
        raise DpError(ErrorCode.MODEL_BAD_OUTPUT, f"{self._where}: output {name} {problem}")

    # --- clients and errors ----------------------------------------------------------

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            if self.protocol == "grpc":
                client = grpcclient.InferenceServerClient(self.url)
            else:
                client = httpclient.InferenceServerClient(
                    self.url,
                    connection_timeout=self.connect_timeout_s,
                    network_timeout=self.timeout_s,
                )
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _control(self, method: str, *args: str) -> Any:
        """A start-up call by client method name; gRPC's answers come as JSON, in the same
        shape as HTTP's, and within `connect_timeout_s` (HTTP's within `timeout_s`)."""
        options: dict[str, Any] = {}
        if self.protocol == "grpc":
            options["client_timeout"] = self.connect_timeout_s
            if method in _JSON_METHODS:
                options["as_json"] = True
        return self._call(lambda c: getattr(c, method)(*args, **options), "start-up check")

    def _call(self, call: Callable[[Any], Any], action: str) -> Any:
        with _silent_lock:
            until = max(
                _silent_until.get((self.url, None), 0.0),
                _silent_until.get((self.url, self.model_name), 0.0),
            )
        waited = until - time.monotonic()
        if waited > 0:
            raise DpError(
                ErrorCode.MODEL_TIMEOUT,
                f"{self._where}: {action} not attempted: no answer within "
                f"{self.timeout_s:g} s a moment ago (not asked again for {waited:.0f} s)",
            )
        try:
            return call(self._client())
        except InferenceServerException as exc:
            raise self._silenced(self._error(exc.status(), exc.message(), action)) from exc
        except TimeoutError as exc:
            self._drop_client()
            raise self._silenced(self._error("timeout", str(exc), action)) from exc
        except OSError as exc:  # refused, reset, broken pipe, unreachable
            self._drop_client()
            error = self._error("connection", str(exc) or type(exc).__name__, action)
            raise self._silenced(error) from exc

    def _silenced(self, error: DpError) -> DpError:
        """After a MODEL_TIMEOUT this process stops asking for SILENT_SERVER_BACKOFF_S, so
        retries and the other videos and steps fail at once instead of each waiting out
        its own deadline (a whole run ends within ~one timeout, not N of them): the whole
        server when it no longer answers a liveness probe (hung), else only this model
        (slow)."""
        if error.code is ErrorCode.MODEL_TIMEOUT:
            scope = (self.url, self.model_name if self._server_answers() else None)
            with _silent_lock:
                _silent_until[scope] = time.monotonic() + SILENT_SERVER_BACKOFF_S
        return error

    def _server_answers(self) -> bool:
        """Whether the server answers `live` within `connect_timeout_s` (a fresh client:
        the timed-out one may still be waiting)."""
        deadline = self.connect_timeout_s
        try:
            if self.protocol == "grpc":
                client = grpcclient.InferenceServerClient(self.url)
                with contextlib.closing(client):
                    return bool(client.is_server_live(client_timeout=deadline))
            client = httpclient.InferenceServerClient(
                self.url, connection_timeout=deadline, network_timeout=deadline
            )
            with contextlib.closing(client):
                return bool(client.is_server_live())
        except Exception:  # any failure to answer is "no"
            return False

    def _drop_client(self) -> None:
        """Forget this thread's client after a network failure: an HTTP connection that
        timed out may still receive the late answer, so the next call starts afresh."""
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with self._clients_lock:
                if client in self._clients:
                    self._clients.remove(client)
            client.close()

    def _error(self, status: str | None, message: str | None, action: str) -> DpError:
        status, detail = str(status or ""), f"{action} failed: {message or status}"
        if status in _TIMEOUT_STATUSES or status == "timeout" or "Deadline Exceeded" in detail:
            return DpError(
                ErrorCode.MODEL_TIMEOUT,
                f"{self._where}: no answer within {self.timeout_s:g} s ({detail})",
            )
        if status in _UNAVAILABLE_STATUSES or status == "connection":
            return DpError(
                ErrorCode.MODEL_UNAVAILABLE,
                f"{self._where}: the server or model is not reachable ({detail}); "
                "check that the Triton server is running and has the model loaded",
            )
        if status in _BAD_REQUEST_STATUSES:
            return DpError(ErrorCode.INTERNAL, f"{self._where}: the server refused ({detail})")
        return DpError(ErrorCode.MODEL_BAD_OUTPUT, f"{self._where}: the model failed ({detail})")

    def close(self) -> None:
        """Close every client this model opened (in any thread)."""
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        self._local = threading.local()

    def __enter__(self) -> TritonModel:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _tensor_specs(entries: list[dict]) -> dict[str, tuple[np.dtype, list[int]]]:
    """name -> (numpy dtype, dims without the batch axis; -1 = any) from config entries."""
    specs = {}
    for entry in entries:
        triton_type = str(entry.get("data_type", "")).removeprefix("TYPE_")
        dtype = triton_to_np_dtype("BYTES" if triton_type == "STRING" else triton_type)
        specs[entry["name"]] = (np.dtype(dtype), [int(d) for d in entry.get("dims", [])])
    return specs


def _shape_matches(shape: tuple[int, ...] | list[int], expected: list[int]) -> bool:
    return len(shape) == len(expected) and all(
        e == -1 or s == e for s, e in zip(shape, expected, strict=True)
    )
