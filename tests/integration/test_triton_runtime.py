"""TritonModel against a real Triton server on loopback (nvidia-pytriton's tritonserver,
Python-backend models wrapping onnxruntime: the CPU test double of production's onnxruntime
backend), over gRPC and HTTP: same outputs as local onnxruntime, `models_used` as the
server reports it, the error taxonomy, request splitting, and the dynamic batcher."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import tritonclient.http as httpclient
from onnx import TensorProto, helper

from dp_core.artifact import ModelUsed, model_signature
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_resources.models.families.clap import (
    AUDIO_FILE,
    STAND_IN_MARKER,
    STAND_IN_NAME,
    TEXT_FILE,
    load_clap,
)
from dp_resources.models.runtime import ModelRuntime
from dp_resources.models.triton_runtime import TritonModel
from dp_tools.stand_ins.clap import build_clap_stand_in
from dp_tools.triton_repository import (
    DEFAULT_REPOSITORY,
    build_cpu_test_repository,
)
from tests.fixtures.triton_server import TritonServer, start_triton_server

pytestmark = pytest.mark.integration

PROTOCOLS = ["grpc", "http"]
TINY_MAX_BATCH = 4
SLOW_SLEEP_S = 3.0

# A production-style config for the tiny edge-case model (y = log(x)): a negative input
# gives NaN, which the client must refuse. `tiny_wrong_shape` claims 5 outputs per item.
TINY_CONFIG = """
backend: "onnxruntime"
max_batch_size: {max_batch}
input [ {{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [ {{ name: "y" data_type: TYPE_FP32 dims: [ {out_dim} ] }} ]
dynamic_batching {{ }}
instance_group [ {{ kind: KIND_GPU count: 1 }} ]
parameters: {{ key: "precision" value: {{ string_value: "fp32" }} }}
parameters: {{ key: "stand_in" value: {{ string_value: "true" }} }}
"""

# Test-only Python models: `slow` answers after SLOW_SLEEP_S, `no_digest` has no recorded
# weights digest, `broken` fails to load.
ECHO_MODEL = """
import json, time
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.sleep_s = float(config["parameters"]["sleep_s"]["string_value"])
    def execute(self, requests):
        time.sleep(self.sleep_s)
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(
            "y", pb_utils.get_input_tensor_by_name(r, "x").as_numpy())]) for r in requests]
"""
BROKEN_MODEL = """
class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("weights are corrupt (test model)")
"""
PYTHON_CONFIG = """
backend: "python"
max_batch_size: 4
input [ {{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [ {{ name: "y" data_type: TYPE_FP32 dims: [ 4 ] }} ]
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
parameters: {{ key: "sleep_s" value: {{ string_value: "{sleep}" }} }}
{extra}
"""
TEST_DIGEST = 'parameters: { key: "weights_digest" value: { string_value: "test-only" } }'


def _tiny_onnx(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Log", ["x"], ["y"])],
        "tiny_log",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def _write_python_model(repository: Path, name: str, code: str, config: str) -> None:
    (repository / name / "1").mkdir(parents=True)
    (repository / name / "config.pbtxt").write_text(f'name: "{name}"\n{config}')
    (repository / name / "1" / "model.py").write_text(code)


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory) -> Path:
    return build_clap_stand_in(tmp_path_factory.mktemp("clap") / "clap")


@pytest.fixture(scope="module")
def served_repository(tmp_path_factory, clap_dir: Path) -> Path:
    """The production CLAP configs over the stand-in towers, plus edge-case models."""
    root = tmp_path_factory.mktemp("triton")
    repository = root / "repository"
    version = json.loads((clap_dir / STAND_IN_MARKER).read_text())["version"]
    build_cpu_test_repository(
        DEFAULT_REPOSITORY,
        {"clap_audio": clap_dir / AUDIO_FILE, "clap_text": clap_dir / TEXT_FILE},
        repository,
        parameters={
            tower: {
                "source_name": f"{STAND_IN_NAME}-{part}",
                "source_version": version,
                "stand_in": "true",
            }
            for tower, part in (("clap_audio", "audio"), ("clap_text", "text"))
        },
    )
    source = root / "source"
    for name, out_dim in (("tiny", 4), ("tiny_wrong_shape", 5)):
        (source / name).mkdir(parents=True)
        config = TINY_CONFIG.format(max_batch=TINY_MAX_BATCH, out_dim=out_dim)
        (source / name / "config.pbtxt").write_text(config)
    tiny = _tiny_onnx(root / "tiny.onnx")
    build_cpu_test_repository(source, {"tiny": tiny, "tiny_wrong_shape": tiny}, repository)
    slow = PYTHON_CONFIG.format(sleep=SLOW_SLEEP_S, extra=TEST_DIGEST)
    _write_python_model(repository, "slow", ECHO_MODEL, slow)
    _write_python_model(
        repository, "no_digest", ECHO_MODEL, PYTHON_CONFIG.format(sleep=0, extra="")
    )
    _write_python_model(repository, "broken", BROKEN_MODEL, PYTHON_CONFIG.format(sleep=0, extra=""))
    return repository


@pytest.fixture(scope="module")
def server(served_repository: Path, tmp_path_factory) -> TritonServer:
    running = start_triton_server(served_repository, tmp_path_factory.mktemp("tritonserver-log"))
    try:
        yield running
    finally:
        running.stop()


def _statistics_after(server: TritonServer, model: str, before: dict, inferences: int) -> dict:
    """The statistics once `inferences` more items are counted: Triton updates them just
    after it sends the answers, so they can lag the client by a moment."""
    deadline = time.monotonic() + 10
    while True:
        stats = _statistics(server, model)
        if stats["inferences"] - before["inferences"] >= inferences or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def _statistics(server: TritonServer, model: str) -> dict:
    client = httpclient.InferenceServerClient(server.http_url)
    try:
        stats = client.get_inference_statistics(model)["model_stats"][0]
    finally:
        client.close()
    return {
        "inferences": int(stats["inference_count"]),
        "executions": int(stats["execution_count"]),
        "requests": int(stats["inference_stats"]["success"]["count"]),
        "batch_sizes": sorted(int(b["batch_size"]) for b in stats["batch_stats"]),
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_clap_towers_equal_local_onnxruntime(server, clap_dir, protocol):
    local = load_clap(clap_dir)
    rng = np.random.default_rng(7)
    waveforms = (rng.standard_normal((3, 480000)) * 0.1).astype(np.float32)
    ids = rng.integers(0, 1024, (5, 77)).astype(np.int64)
    mask = (np.arange(77) < rng.integers(2, 77, (5, 1))).astype(np.int64)
    for local_tower, name, inputs in (
        (local.audio, "clap_audio", {"waveform": waveforms}),
        (local.text, "clap_text", {"input_ids": ids, "attention_mask": mask}),
    ):
        with TritonModel(server.url(protocol), name, protocol=protocol) as remote:
            assert isinstance(remote, ModelRuntime)
            assert sorted(remote.input_names) == sorted(local_tower.input_names)
            assert remote.output_names == local_tower.output_names
            served, expected = remote.run(inputs), local_tower.run(inputs)
            for output in local_tower.output_names:
                assert served[output].dtype == np.float32
                np.testing.assert_allclose(served[output], expected[output], rtol=0, atol=1e-5)
            onnx_file = clap_dir / (AUDIO_FILE if name == "clap_audio" else TEXT_FILE)
            assert remote.model_used == ModelUsed(
                name=local_tower.model_used.name,
                version=local_tower.model_used.version,
                weights_digest=sha256_file(onnx_file),
                engine="triton:python",
                precision="fp32",
                device="cpu",
                stand_in=True,
            )
            assert remote.model_version == "1"
            # Same weights, another engine and device: a different model signature.
            assert local_tower.model_used.weights_digest == remote.model_used.weights_digest
            assert model_signature([remote.model_used]) != model_signature([local_tower.model_used])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_inputs_beyond_max_batch_size_go_in_several_requests(server, protocol):
    x = np.random.default_rng(1).uniform(0.1, 5.0, (10, 4)).astype(np.float32)
    before = _statistics(server, "tiny")
    with TritonModel(server.url(protocol), "tiny", protocol=protocol) as model:
        assert model.max_batch_size == TINY_MAX_BATCH
        y = model.run({"x": x})["y"]
        empty = model.run({"x": np.zeros((0, 4), np.float32)})["y"]
    np.testing.assert_allclose(y, np.log(x), rtol=1e-6)
    assert empty.shape == (0, 4)
    after = _statistics_after(server, "tiny", before, inferences=10)
    assert after["requests"] - before["requests"] == 3  # 4 + 4 + 2 items
    assert after["inferences"] - before["inferences"] == 10


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_outputs_are_model_bad_output(server, protocol):
    tiny = TritonModel(server.url(protocol), "tiny", protocol=protocol)
    with tiny as model, pytest.raises(DpError) as non_finite:
        model.run({"x": np.array([[1.0, 2.0, -1.0, 3.0]], np.float32)})
    assert non_finite.value.code == ErrorCode.MODEL_BAD_OUTPUT
    assert "NaN" in non_finite.value.message and "'tiny'" in non_finite.value.message
    wrong = TritonModel(server.url(protocol), "tiny_wrong_shape", protocol=protocol)
    with wrong as model, pytest.raises(DpError) as wrong_shape:
        model.run({"x": np.ones((2, 4), np.float32)})
    assert wrong_shape.value.code == ErrorCode.MODEL_BAD_OUTPUT
    assert server.url(protocol) in wrong_shape.value.message
    assert not wrong_shape.value.transient


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_inputs_that_do_not_fit_the_config_are_a_caller_bug(server, protocol):
    with TritonModel(server.url(protocol), "tiny", protocol=protocol) as model:
        for inputs in (
            {"x": np.ones((2, 4), np.float64)},
            {"x": np.ones((2, 3), np.float32)},
            {"x": np.ones((2, 4), np.float32), "z": np.ones((2, 4), np.float32)},
        ):
            with pytest.raises(DpError) as caught:
                model.run(inputs)
            assert caught.value.code == ErrorCode.INTERNAL


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_missing_model_version_or_digest_is_model_not_found(server, protocol):
    url = server.url(protocol)
    for name, version in (("clip_image", ""), ("tiny", "2"), ("no_digest", "")):
        with pytest.raises(DpError) as caught:
            TritonModel(url, name, protocol=protocol, model_version=version)
        assert caught.value.code == ErrorCode.MODEL_NOT_FOUND, caught.value
        assert url in caught.value.message and f"'{name}'" in caught.value.message
        assert "dp models export" in caught.value.message
        assert not caught.value.transient


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_model_that_failed_to_load_is_unavailable(server, protocol):
    with pytest.raises(DpError) as caught:
        TritonModel(server.url(protocol), "broken", protocol=protocol)
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert "weights are corrupt" in caught.value.message  # the server's reason, passed on
    assert caught.value.transient


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_slow_answer_is_model_timeout(server, protocol):
    slow = TritonModel(server.url(protocol), "slow", protocol=protocol, timeout_s=0.5)
    with slow as model, pytest.raises(DpError) as caught:
        model.run({"x": np.ones((1, 4), np.float32)})
    assert caught.value.code == ErrorCode.MODEL_TIMEOUT
    assert "'slow'" in caught.value.message and "0.5 s" in caught.value.message
    assert caught.value.transient


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_server_at_the_url_is_model_unavailable(protocol):
    from tests.fixtures.triton_server import _free_ports

    url = f"127.0.0.1:{_free_ports(1)[0]}"
    with pytest.raises(DpError) as caught:
        TritonModel(url, "clap_audio", protocol=protocol, connect_timeout_s=2)
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert url in caught.value.message and "'clap_audio'" in caught.value.message
    assert caught.value.transient


def test_server_stopped_mid_run_is_model_unavailable(tmp_path, clap_dir):
    repository = build_cpu_test_repository(
        DEFAULT_REPOSITORY, {"clap_text": clap_dir / TEXT_FILE}, tmp_path / "repository"
    )
    own_server = start_triton_server(repository, tmp_path)
    inputs = {"input_ids": np.ones((2, 77), np.int64), "attention_mask": np.ones((2, 77), np.int64)}
    try:
        models = {p: TritonModel(own_server.url(p), "clap_text", protocol=p) for p in PROTOCOLS}
        for model in models.values():
            assert model.run(inputs)["text_embedding"].shape == (2, 512)
    finally:
        own_server.stop()
    for protocol, model in models.items():
        with pytest.raises(DpError) as caught:
            model.run(inputs)
        assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE, (protocol, caught.value)
        assert own_server.url(protocol) in caught.value.message
        model.close()


def test_dynamic_batcher_merges_requests_of_concurrent_workers(server, clap_dir):
    """Several worker threads send one window each; with one model instance busy, Triton
    queues and merges them: fewer executions than inferences, batches larger than 1."""
    local = load_clap(clap_dir).audio
    workers, requests_each = 4, 3
    rng = np.random.default_rng(3)
    windows = (rng.standard_normal((workers * requests_each, 1, 480000)) * 0.1).astype(np.float32)
    results: dict[int, np.ndarray] = {}
    failures: list[BaseException] = []
    start = threading.Barrier(workers)
    before = _statistics(server, "clap_audio")
    with TritonModel(server.grpc_url, "clap_audio", protocol="grpc") as model:

        def worker(index: int) -> None:
            try:
                start.wait()
                for k in range(index * requests_each, (index + 1) * requests_each):
                    results[k] = model.run({"waveform": windows[k]})["audio_embedding"]
            except BaseException as exc:  # reported in the main thread below
                failures.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not failures, failures
    after = _statistics_after(server, "clap_audio", before, inferences=len(windows))
    inferences = after["inferences"] - before["inferences"]
    executions = after["executions"] - before["executions"]
    assert inferences == workers * requests_each
    assert executions < inferences, (before, after)
    assert max(after["batch_sizes"]) > 1
    expected = local.run({"waveform": windows[:, 0]})["audio_embedding"]
    served = np.concatenate([results[k] for k in range(len(windows))])
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-5)
