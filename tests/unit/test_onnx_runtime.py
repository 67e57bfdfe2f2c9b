import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.onnx_runtime import OnnxModel

pytestmark = pytest.mark.unit


def doubling_model(path, op="Add"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])
    graph = helper.make_graph([helper.make_node(op, ["x", "x"], ["y"])], "double", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_runs_and_reports_what_served_it(tmp_path):
    model = OnnxModel(
        doubling_model(tmp_path / "m.onnx"), name="double", version="1", stand_in=True
    )
    out = model.run({"x": np.ones((2, 3), np.float32)})["y"]
    np.testing.assert_array_equal(out, 2 * np.ones((2, 3)))
    used = model.model_used
    assert (used.engine, used.device, used.precision, used.stand_in) == (
        "onnxruntime",
        "cpu",
        "fp32",
        True,
    )
    assert len(used.weights_digest) == 64


def test_cuda_where_there_is_none_is_an_error_not_a_cpu_run(tmp_path):
    with pytest.raises(DpError) as info:
        OnnxModel(
            doubling_model(tmp_path / "m.onnx"),
            name="double",
            version="1",
            providers=("CUDAExecutionProvider",),
        )
    assert (
        info.value.code is ErrorCode.DEPENDENCY_MISSING
        and "CUDAExecutionProvider" in info.value.message
    )


def test_the_device_label_comes_from_the_session_not_the_request(tmp_path, monkeypatch):
    """onnxruntime starts CUDA lazily: when its libraries fail to load it logs a warning and
    the session runs on CPU. Reproduced here with a real CPU session that reports what such a
    session reports (no GPU on this machine): the model must refuse, never label it cuda:0."""
    import onnxruntime as ort

    real_session = ort.InferenceSession

    class FellBackToCpu(real_session):
        def __init__(self, path, sess_options=None, providers=None):
            super().__init__(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    available = ort.get_available_providers()
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *available]
    )
    monkeypatch.setattr(ort, "InferenceSession", FellBackToCpu)
    with pytest.raises(DpError) as info:
        OnnxModel(
            doubling_model(tmp_path / "m.onnx"),
            name="double",
            version="1",
            providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
        )
    assert info.value.code is ErrorCode.DEPENDENCY_MISSING
    assert "runs on CPUExecutionProvider" in info.value.message
    monkeypatch.setattr(ort, "InferenceSession", real_session)
    model = OnnxModel(doubling_model(tmp_path / "m.onnx"), name="double", version="1")
    assert model.session.get_providers()[0] == "CPUExecutionProvider"
    assert model.model_used.device == "cpu"


def test_missing_or_broken_model_file(tmp_path):
    with pytest.raises(DpError) as info:
        OnnxModel(tmp_path / "absent.onnx", name="x", version="1")
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(DpError) as info:
        OnnxModel(broken, name="x", version="1")
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND


def test_non_finite_outputs_are_bad_output(tmp_path):
    model = OnnxModel(doubling_model(tmp_path / "d.onnx", op="Div"), name="div", version="1")
    with pytest.raises(DpError) as info:
        model.run({"x": np.zeros((1, 3), np.float32)})  # 0/0
    assert info.value.code is ErrorCode.MODEL_BAD_OUTPUT
