"""`model_repository/` configs against the ONNX contracts, and the two repository writers."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_resources.models.families.clap import (
    AUDIO_FILE,
    TEXT_FILE,
)
from dp_tools.stand_ins.clap import build_clap_stand_in
from dp_tools.triton_repository import (
    CONFIG_FILE,
    DEFAULT_REPOSITORY,
    ONNX_FILE,
    PYTHON_MODEL_FILE,
    build_cpu_test_repository,
    export_repository,
    read_config,
)

pytestmark = pytest.mark.unit

KIND_CPU = model_config_pb2.ModelInstanceGroup.KIND_CPU
KIND_GPU = model_config_pb2.ModelInstanceGroup.KIND_GPU
FP32, INT64 = model_config_pb2.TYPE_FP32, model_config_pb2.TYPE_INT64

# The ONNX contracts (shared/MODELS.md, dp_resources/models/families/clap.py): name -> (inputs, outputs),
# each {tensor: (dtype, dims without the batch axis)}.
CONTRACTS = {
    "clip_image": ({"pixel_values": (FP32, [3, 224, 224])}, {"image_embedding": (FP32, [512])}),
    "clip_text": ({"input_ids": (INT64, [77])}, {"text_embedding": (FP32, [512])}),
    "clap_audio": ({"waveform": (FP32, [480000])}, {"audio_embedding": (FP32, [512])}),
    "clap_text": (
        {"input_ids": (INT64, [77]), "attention_mask": (INT64, [77])},
        {"text_embedding": (FP32, [512])},
    ),
    "midas": ({"image": (FP32, [3, 256, 256])}, {"depth": (FP32, [256, 256])}),
    "nanodet": (
        {"input_1": (FP32, [3, 416, 416])},
        {
            "Identity": (FP32, [2704, 80]),
            "Identity_1": (FP32, [676, 80]),
            "Identity_2": (FP32, [169, 80]),
            "Identity_3": (FP32, [2704, 44]),
            "Identity_4": (FP32, [676, 44]),
            "Identity_5": (FP32, [169, 44]),
        },
    ),
}


def _tensors(entries) -> dict[str, tuple[int, list[int]]]:
    return {e.name: (e.data_type, list(e.dims)) for e in entries}


def test_repository_holds_exactly_the_production_models():
    folders = {p.name for p in DEFAULT_REPOSITORY.iterdir() if p.is_dir()}
    assert folders == set(CONTRACTS)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_production_config_matches_the_onnx_contract(name):
    config = read_config(DEFAULT_REPOSITORY / name / CONFIG_FILE)
    inputs, outputs = CONTRACTS[name]
    assert config.name == name
    assert config.backend == "onnxruntime" or config.platform == "onnxruntime_onnx"
    assert _tensors(config.input) == inputs
    assert _tensors(config.output) == outputs
    assert config.max_batch_size >= 8
    batching = config.dynamic_batching
    assert batching.preferred_batch_size, "dynamic batching needs preferred sizes"
    assert max(batching.preferred_batch_size) <= config.max_batch_size
    assert 0 < batching.max_queue_delay_microseconds <= 10_000  # ≤ 10 ms added latency
    assert [(g.kind, g.count) for g in config.instance_group] == [(KIND_GPU, 1)]
    assert config.parameters["precision"].string_value == "fp32"
    assert config.parameters["source_name"].string_value
    assert "weights_digest" not in config.parameters  # recorded by the export, not committed
    version_dir = DEFAULT_REPOSITORY / name / "1"
    assert version_dir.is_dir()
    assert {p.name for p in version_dir.iterdir()} <= {"README.md", ".gitkeep"}


def test_clap_configs_match_the_stand_in_towers(tmp_path):
    clap = build_clap_stand_in(tmp_path / "clap")
    for name, file in (("clap_audio", AUDIO_FILE), ("clap_text", TEXT_FILE)):
        graph = onnx.load(clap / file).graph
        config = read_config(DEFAULT_REPOSITORY / name / CONFIG_FILE)
        for onnx_values, config_values in (
            (graph.input, config.input),
            (graph.output, config.output),
        ):
            onnx_tensors = {
                v.name: (
                    v.type.tensor_type.elem_type,
                    [d.dim_value for d in v.type.tensor_type.shape.dim[1:]],
                )
                for v in onnx_values
            }
            expected = {
                n: ({FP32: TensorProto.FLOAT, INT64: TensorProto.INT64}[t], dims)
                for n, (t, dims) in _tensors(config_values).items()
            }
            assert onnx_tensors == expected


def _tiny_onnx(path: Path, scale: float = 2.0) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Mul", ["pixel_values", "s"], ["image_embedding"])],
        "tiny",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["b", 3])],
        [helper.make_tensor_value_info("image_embedding", TensorProto.FLOAT, ["b", 3])],
        [helper.make_tensor("s", TensorProto.FLOAT, [], [scale])],
    )
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return path


def test_export_writes_config_with_digest_and_versioned_weights(tmp_path):
    weights = _tiny_onnx(tmp_path / "clip_image.onnx")
    target = export_repository(
        DEFAULT_REPOSITORY,
        {"clip_image": weights},
        tmp_path / "repo",
        parameters={"clip_image": {"precision": "fp16", "source_version": "test-export"}},
    )
    config = read_config(target / "clip_image" / CONFIG_FILE)
    production = read_config(DEFAULT_REPOSITORY / "clip_image" / CONFIG_FILE)
    assert config.parameters["weights_digest"].string_value == sha256_file(weights)
    assert config.parameters["precision"].string_value == "fp16"
    assert config.parameters["source_version"].string_value == "test-export"
    assert config.backend == "onnxruntime"
    assert config.input == production.input and config.output == production.output
    assert config.dynamic_batching == production.dynamic_batching
    assert config.instance_group == production.instance_group
    assert (target / "clip_image" / "1" / ONNX_FILE).read_bytes() == weights.read_bytes()
    assert sorted(p.name for p in target.iterdir()) == ["clip_image"]  # only what was named


def test_export_in_place_takes_a_given_digest_and_replaces_the_weights(tmp_path):
    repository = shutil.copytree(DEFAULT_REPOSITORY, tmp_path / "model_repository")
    first, second = _tiny_onnx(tmp_path / "a.onnx", 2.0), _tiny_onnx(tmp_path / "b.onnx", 3.0)
    export_repository(repository, {"clip_image": first}, repository, version=2)
    export_repository(
        repository,
        {"clip_image": second},
        repository,
        weights_digests={"clip_image": "abc"},
        version=2,
    )
    config = read_config(repository / "clip_image" / CONFIG_FILE)
    assert config.parameters["weights_digest"].string_value == "abc"
    assert (repository / "clip_image" / "2" / ONNX_FILE).read_bytes() == second.read_bytes()
    assert not [p for p in (repository / "clip_image" / "2").iterdir() if p.name.startswith(".")]


def test_cpu_test_repository_keeps_the_contract_on_the_python_backend(tmp_path):
    weights = _tiny_onnx(tmp_path / "w.onnx")
    target = build_cpu_test_repository(
        DEFAULT_REPOSITORY,
        {"midas": weights},
        tmp_path / "repo",
        parameters={"midas": {"stand_in": "true"}},
    )
    config = read_config(target / "midas" / CONFIG_FILE)
    production = read_config(DEFAULT_REPOSITORY / "midas" / CONFIG_FILE)
    assert config.backend == "python" and not config.platform
    assert [(g.kind, g.count) for g in config.instance_group] == [(KIND_CPU, 1)]
    assert config.input == production.input and config.output == production.output
    assert config.max_batch_size == production.max_batch_size
    assert config.dynamic_batching == production.dynamic_batching
    assert config.parameters["source_engine"].string_value == "onnxruntime"
    assert config.parameters["weights_digest"].string_value == sha256_file(weights)
    assert config.parameters["stand_in"].string_value == "true"
    assert config.parameters["source_name"].string_value == "midas-v2.1-small"
    assert (target / "midas" / "1" / ONNX_FILE).read_bytes() == weights.read_bytes()
    compile((target / "midas" / "1" / PYTHON_MODEL_FILE).read_text(), "model.py", "exec")


def test_missing_config_or_weights_are_model_not_found(tmp_path):
    weights = _tiny_onnx(tmp_path / "w.onnx")
    for writer in (export_repository, build_cpu_test_repository):
        with pytest.raises(DpError) as no_config:
            writer(DEFAULT_REPOSITORY, {"no_such_model": weights}, tmp_path / "repo")
        assert no_config.value.code == ErrorCode.MODEL_NOT_FOUND
        with pytest.raises(DpError) as no_weights:
            writer(DEFAULT_REPOSITORY, {"midas": tmp_path / "absent.onnx"}, tmp_path / "repo")
        assert no_weights.value.code == ErrorCode.MODEL_NOT_FOUND
        assert "absent.onnx" in no_weights.value.message


def test_unparsable_config_is_config_invalid(tmp_path):
    (tmp_path / "midas").mkdir()
    (tmp_path / "midas" / CONFIG_FILE).write_text('name: "midas"\nmax_batch_size: "many"\n')
    with pytest.raises(DpError) as caught:
        export_repository(tmp_path, {"midas": _tiny_onnx(tmp_path / "w.onnx")}, tmp_path / "out")
    assert caught.value.code == ErrorCode.CONFIG_INVALID
