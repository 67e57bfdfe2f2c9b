"""The TFJS -> ONNX converter on a small hand-written graph model (NanoDet's layout: NCHW input,
NHWC convolutions between transposes, fp16 weights), checked against a numpy reference of
TensorFlow's semantics."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_tools.tfjs_to_onnx import read_tfjs_graph, tfjs_graph_to_onnx

pytestmark = pytest.mark.unit

RNG = np.random.default_rng(3)
W1 = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)  # HWIO, stored as fp16
B1 = RNG.standard_normal(4).astype(np.float32)
W2 = RNG.standard_normal((3, 3, 4, 6)).astype(np.float32)  # stored as fp16
B2_QUANTISED = RNG.integers(0, 256, 6).astype(np.uint8)  # stored as uint8: q * scale + min
B2_SCALE, B2_MIN = 0.01, -1.0


def b(value: bool) -> dict:
    return {"b": value}


def ints(values) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


def text(value: str) -> dict:
    import base64

    return {"s": base64.b64encode(value.encode()).decode()}


def node(name, op, inputs=(), **attr):
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


# (name, value, stored as): the Const nodes, in the order of the weights manifest.
CONSTANTS = [
    ("pad_amounts", np.array([[0, 0], [0, 0], [1, 1], [1, 1]], np.int32), None),
    ("to_nhwc", np.array([0, 2, 3, 1], np.int32), None),
    ("w1", W1, "float16"),
    ("b1", B1, None),
    ("w2", W2, "float16"),
    ("b2", B2_QUANTISED, "uint8"),
    ("resize_to", np.array([5, 5], np.int32), None),
    ("concat_axis", np.array(3, np.int32), None),
    ("to_nchw", np.array([0, 3, 1, 2], np.int32), None),
    ("split_sizes", np.array([8, 4], np.int32), None),
    ("split_axis", np.array(1, np.int32), None),
    ("where", np.zeros((0, 1), np.int32), None),
    ("dense_shape", np.array([3], np.int32), None),
    ("sparse_values", np.zeros(0, np.int32), None),
    ("zero", np.array(0, np.int32), None),
    ("shape_8", np.array([1, 8, -1], np.int32), None),
    ("shape_4", np.array([1, 4, -1], np.int32), None),
    ("swap_last", np.array([0, 2, 1], np.int32), None),
    ("pool_pad", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32), None),
    ("minus_inf", np.array(-np.inf, np.float32), None),
]

NODES = [
    node(
        "input_1",
        "Placeholder",
        shape={"shape": {"dim": [{"size": "1"}, {"size": "3"}, {"size": "10"}, {"size": "10"}]}},
        dtype={"type": "DT_FLOAT"},
    ),
    *[node(name, "Const") for name, _, _ in CONSTANTS],
    # The reshape target is built at run time in the TF graph; the converter folds it.
    node("dense", "SparseToDense", ["where", "dense_shape", "sparse_values", "zero"]),
    node("target_8", "AddV2", ["shape_8", "dense"]),
    node("pad", "Pad", ["input_1", "pad_amounts"]),
    node("nhwc", "Transpose", ["pad", "to_nhwc"]),
    node(
        "conv1",
        "Conv2D",
        ["nhwc", "w1"],
        strides=ints([1, 2, 2, 1]),
        padding=text("VALID"),
        data_format=text("NHWC"),
        dilations=ints([1, 1, 1, 1]),
    ),
    node("bias1", "BiasAdd", ["conv1", "b1"]),
    node("act1", "LeakyRelu", ["bias1"], alpha={"f": 0.1}),
    node("conv2", "Conv2D", ["act1", "w2"], strides=ints([1, 1, 1, 1]), padding=text("SAME")),
    node("bias2", "Add", ["conv2", "b2"]),
    node(
        "pool",
        "MaxPool",
        ["bias2"],
        ksize=ints([1, 2, 2, 1]),
        strides=ints([1, 2, 2, 1]),
        padding=text("SAME"),
    ),
    node(
        "up",
        "ResizeBilinear",
        ["pool", "resize_to"],
        half_pixel_centers=b(True),
        align_corners=b(False),
    ),
    node("cat", "ConcatV2", ["up", "bias2", "concat_axis"]),
    node("cat_nchw", "Transpose", ["cat", "to_nchw"]),
    node("split", "SplitV", ["cat_nchw", "split_sizes", "split_axis"], num_split={"i": "2"}),
    node("sig", "Sigmoid", ["split"]),
    node("flat_8", "Reshape", ["sig", "target_8"]),
    node("out_8", "Transpose", ["flat_8", "swap_last"]),
    node("Identity", "Identity", ["out_8"]),
    node("clipped", "Relu6", ["split:1"]),
    node("flat_4", "Reshape", ["clipped", "shape_4"]),
    node("Identity_1", "Identity", ["flat_4"]),
    node("padded", "PadV2", ["act1", "pool_pad", "minus_inf"]),
    node(
        "pool2",
        "MaxPool",
        ["padded"],
        ksize=ints([1, 3, 3, 1]),
        strides=ints([1, 2, 2, 1]),
        padding=text("VALID"),
    ),
    node("Identity_2", "Tanh", ["pool2"]),
]


def write_tfjs_model(folder, nodes=NODES, truncate=0, signature=True):
    """model.json + two weight shards (the data split across them, as TFJS does); `truncate`
    drops that many bytes from the end of the data."""
    weights, blobs = [], []
    for name, value, stored in CONSTANTS:
        entry = {"name": name, "shape": list(value.shape), "dtype": "float32"}
        if stored == "float16":
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(value.astype("<f2").tobytes())
        elif stored == "uint8":
            entry["quantization"] = {"dtype": "uint8", "scale": B2_SCALE, "min": B2_MIN}
            blobs.append(value.tobytes())
        else:
            entry["dtype"] = "float32" if value.dtype == np.float32 else "int32"
            blobs.append(value.astype(value.dtype.newbyteorder("<")).tobytes())
        weights.append(entry)
    data = b"".join(blobs)[: len(b"".join(blobs)) - truncate]
    half = len(data) // 2
    (folder / "group1-shard1of2.bin").write_bytes(data[:half])
    (folder / "group1-shard2of2.bin").write_bytes(data[half:])
    outputs = (("Identity", (1, 25, 8)), ("Identity_1", (1, 4, 25)), ("Identity_2", (1, 3, 3, 4)))
    signature_json = {
        "inputs": {"input_1:0": {"name": "input_1:0"}},
        "outputs": {
            f"{n}:0": {"name": f"{n}:0", "tensorShape": {"dim": [{"size": str(d)} for d in s]}}
            for n, s in outputs
        },
    }
    document = {
        "format": "graph-model",
        "signature": signature_json if signature else {},
        "modelTopology": {"node": list(reversed(nodes))},  # not in topological order
        "weightsManifest": [
            {"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"], "weights": weights}
        ],
    }
    path = folder / "model.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# --- numpy reference of the TF ops (NHWC) ----------------------------------------------------


def conv2d_nhwc(x, w, stride, pad_total):
    """TF Conv2D: pad_total = (before_h, after_h, before_w, after_w)."""
    x = np.pad(x, [(0, 0), pad_total[:2], pad_total[2:], (0, 0)])
    kh, kw, _, out_c = w.shape
    n, h, wd, _ = x.shape
    out_h, out_w = (h - kh) // stride + 1, (wd - kw) // stride + 1
    y = np.zeros((n, out_h, out_w, out_c))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
            y[:, i, j] = np.einsum("nhwc,hwco->no", patch, w)
    return y


def max_pool_nhwc(x, k, stride, pad_total):
    x = np.pad(x, [(0, 0), pad_total[:2], pad_total[2:], (0, 0)], constant_values=-np.inf)
    n, h, w, c = x.shape
    out_h, out_w = (h - k) // stride + 1, (w - k) // stride + 1
    y = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            y[:, i, j] = x[:, i * stride : i * stride + k, j * stride : j * stride + k].max((1, 2))
    return y


def resize_bilinear_half_pixel(x, out_h, out_w):
    """TF's ResizeBilinear with half_pixel_centers (tensorflow/core/kernels/image/
    resize_bilinear_op.cc: in = (out + 0.5) * scale - 0.5, lower = max(floor(in), 0),
    upper = min(ceil(in), size - 1), lerp = in - floor(in))."""

    def weights(out_size, in_size):
        scale = in_size / out_size
        pos = (np.arange(out_size) + 0.5) * scale - 0.5
        floor = np.floor(pos)
        lower = np.maximum(floor, 0).astype(int)
        upper = np.minimum(np.ceil(pos), in_size - 1).astype(int)
        return lower, upper, pos - floor

    top, bottom, dy = weights(out_h, x.shape[1])
    left, right, dx = weights(out_w, x.shape[2])
    rows_top = (
        x[:, top][:, :, left] * (1 - dx)[None, None, :, None]
        + x[:, top][:, :, right] * dx[None, None, :, None]
    )
    rows_bottom = (
        x[:, bottom][:, :, left] * (1 - dx)[None, None, :, None]
        + x[:, bottom][:, :, right] * dx[None, None, :, None]
    )
    return rows_top * (1 - dy)[None, :, None, None] + rows_bottom * dy[None, :, None, None]


def reference(x_nchw):
    w1 = W1.astype(np.float16).astype(np.float64)
    w2 = W2.astype(np.float16).astype(np.float64)
    b2 = B2_QUANTISED.astype(np.float64) * B2_SCALE + B2_MIN
    x = np.pad(x_nchw, [(0, 0), (0, 0), (1, 1), (1, 1)]).transpose(0, 2, 3, 1)
    act1 = conv2d_nhwc(x, w1, 2, (0, 0, 0, 0)) + B1
    act1 = np.where(act1 > 0, act1, 0.1 * act1)  # [n, 5, 5, 4]
    bias2 = conv2d_nhwc(act1, w2, 1, (1, 1, 1, 1)) + b2  # SAME, 3x3
    pool = max_pool_nhwc(bias2, 2, 2, (0, 1, 0, 1))  # SAME on 5: one pixel at the end
    up = resize_bilinear_half_pixel(pool, 5, 5)
    cat = np.concatenate([up, bias2], axis=3).transpose(0, 3, 1, 2)  # [n, 12, 5, 5]
    n = len(x_nchw)
    out_8 = (1 / (1 + np.exp(-cat[:, :8]))).reshape(n, 8, -1).transpose(0, 2, 1)
    out_4 = np.clip(cat[:, 8:], 0, 6).reshape(n, 4, -1)
    pool2 = max_pool_nhwc(act1, 3, 2, (1, 1, 1, 1))
    return {"Identity": out_8, "Identity_1": out_4, "Identity_2": np.tanh(pool2)}


def test_reads_fp16_and_affine_quantised_weights(tmp_path):
    graph = read_tfjs_graph(write_tfjs_model(tmp_path))
    np.testing.assert_array_equal(graph.constants["w1"], W1.astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(graph.constants["b2"], B2_QUANTISED * B2_SCALE + B2_MIN, atol=1e-6)
    assert graph.constants["b1"].dtype == np.float32
    assert graph.output_names == ["Identity", "Identity_1", "Identity_2"]


def test_converted_graph_matches_the_numpy_reference_at_any_batch(tmp_path):
    model = tfjs_graph_to_onnx(write_tfjs_model(tmp_path))
    assert model.opset_import[0].version == 17 and model.ir_version == 8
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 10, 10]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["Identity", "Identity_1", "Identity_2"]
    x = RNG.standard_normal((3, 3, 10, 10)).astype(np.float32)
    for batch in (x[:1], x):
        got = dict(
            zip(
                ["Identity", "Identity_1", "Identity_2"],
                session.run(None, {"input_1": batch}),
                strict=True,
            )
        )
        want = reference(batch.astype(np.float64))
        for name, value in want.items():
            assert got[name].shape == value.shape, name
            np.testing.assert_allclose(got[name], value, atol=2e-5, rtol=1e-5, err_msg=name)


def test_without_a_signature_outputs_are_the_unread_nodes_with_inferred_shapes(tmp_path):
    model = tfjs_graph_to_onnx(write_tfjs_model(tmp_path, signature=False))
    shapes = {
        o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
        for o in model.graph.output
    }
    # ONNX shape inference does not resolve a reshape's -1 against a symbolic batch: those
    # dimensions stay unnamed, the ranks and the rest are known.
    assert [len(shape) for shape in shapes.values()] == [3, 3, 4]
    assert shapes["Identity"][2] == 8 and shapes["Identity_1"][1] == 4
    assert shapes["Identity_2"] == ["batch", 3, 3, 4]


def test_fixed_batch_keeps_the_graphs_shapes(tmp_path):
    model = tfjs_graph_to_onnx(write_tfjs_model(tmp_path), dynamic_batch=False)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = RNG.standard_normal((1, 3, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(
        session.run(["Identity_2"], {"input_1": x})[0], reference(x)["Identity_2"], atol=2e-5
    )


def test_an_unsupported_op_is_named(tmp_path):
    nodes = [*NODES, node("odd", "Erf", ["act1"]), node("odder", "Atan2", ["act1", "act1"])]
    with pytest.raises(DpError) as info:
        tfjs_graph_to_onnx(write_tfjs_model(tmp_path, nodes=nodes))
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "Atan2, Erf" in info.value.message


def test_shards_that_do_not_match_the_manifest_are_refused(tmp_path):
    with pytest.raises(DpError) as info:
        read_tfjs_graph(write_tfjs_model(tmp_path, truncate=2))
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "runs past the end" in info.value.message


def test_a_missing_model_is_model_not_found(tmp_path):
    with pytest.raises(DpError) as info:
        tfjs_graph_to_onnx(tmp_path / "model.json")
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
