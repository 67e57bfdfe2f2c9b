"""A TensorFlow.js graph model (`model.json` + `.bin` shards) as an ONNX model, without TensorFlow.

A TFJS graph model is a TensorFlow GraphDef written as JSON (`modelTopology.node`: op, inputs,
attributes) plus a weights manifest: groups of `.bin` shards holding every `Const` node's value
back to back, in manifest order. We read the weights with numpy (fp16-stored weights become
float32, uint8/uint16 affine-quantised ones `q * scale + min`, as the manifest says), fold the
nodes whose inputs are all constants (the `SparseToDense`/`AddV2` chains an ONNX->TF->TFJS
round trip leaves around reshape targets), and map every other node onto ONNX nodes with the
`onnx.helper` API: opset 17, IR version 8.

Ops (TF names) this converter maps, and how:
- `Placeholder` -> graph input; `Const` -> initializer (emitted when something uses it);
  `Identity`, `Transpose`, `Reshape`, `ConcatV2`, `Split`/`SplitV` -> the ONNX op of that name;
- `Pad`, `PadV2` -> `Pad` (constant mode); `Conv2D` -> `Conv` (NHWC wrapped in two transposes,
  HWIO filter as OIHW, `SAME`/`VALID`/`EXPLICIT` padding, strides, dilations; one group:
  TFJS's own conv2d needs the filter's input depth to equal the input's, so a graph model
  holds no grouped Conv2D, and `DepthwiseConv2dNative` is not mapped);
  `MaxPool`/`AvgPool` -> `MaxPool`/`AveragePool` (padding excluded from the average, as TF);
- `Add`, `AddV2`, `BiasAdd`, `Sub`, `Mul`, `RealDiv` -> `Add`, `Add`, `Add`, `Sub`, `Mul`, `Div`;
- `LeakyRelu`, `Relu`, `Relu6` (`Clip` 0..6), `Sigmoid`, `Tanh` -> the ONNX activations;
- `ResizeBilinear` -> `Resize` linear (`half_pixel` / `align_corners` / `asymmetric`, as TF's
  flags say), the output size taken from the constant and the batch/channels from the input;
- `SparseToDense`, `Cast` -> constant-folded only (they must have constant inputs).
Any other op is `MODEL_NOT_FOUND` naming it, before anything is built.

Dynamic batch (`dynamic_batch=True`): a graph input whose first dimension is 1 or unknown gets a
symbolic `batch` dimension, as do the outputs, and a constant `Reshape` target whose first entry
is 1 gets 0 there (ONNX: copy the input's first dimension). That holds when axis 0 is the batch
all the way through, as in an image model; callers should check batch-N against N batch-1 runs
(`dp_resources/models/families/nanodet.py` does, once, at conversion).

TF tensor `node:k` becomes the ONNX value `node` for k = 0 and `node__k` otherwise; graph outputs
keep the TF name without `:0` (`Identity:0` -> `Identity`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dp_core.errors import DpError, ErrorCode

OPSET = 17
IR_VERSION = 8
BATCH_DIM = "batch"

_NUMPY_OF_MANIFEST_DTYPE = {
    "float32": np.dtype("<f4"),
    "float16": np.dtype("<f2"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "bool": np.dtype("u1"),
}
_TF_DTYPE = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT32}
_BINARY = {"Add": "Add", "AddV2": "Add", "BiasAdd": "Add", "Sub": "Sub", "Mul": "Mul"}
_BINARY["RealDiv"] = "Div"
_UNARY = {"Identity": "Identity", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu"}
_NHWC_TO_NCHW = [0, 3, 1, 2]
_NCHW_TO_NHWC = [0, 2, 3, 1]


@dataclass
class TfjsGraph:
    """A parsed TFJS graph model: nodes in file order, constants by node name, signature."""

    nodes: list[dict]
    constants: dict[str, np.ndarray]
    input_names: list[str]
    output_names: list[str]
    output_shapes: dict[str, list[int]] = field(default_factory=dict)  # -1: unknown
    ops: set[str] = field(default_factory=set)


def read_tfjs_graph(model_json: Path) -> TfjsGraph:
    """The topology and weights of a TFJS graph model; weights as float32/int32 numpy arrays."""
    model_json = Path(model_json)
    if not model_json.is_file():
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"no TFJS graph model at {model_json}")
    try:
        document = json.loads(model_json.read_text(encoding="utf-8"))
        nodes = list(document["modelTopology"]["node"])
        manifest = list(document.get("weightsManifest", []))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"{model_json} is not a TFJS graph model: {exc}"
        ) from exc
    model_format = str(document.get("format", "graph-model"))
    if model_format != "graph-model":
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model_json} is a TFJS {model_format!r}, not a graph model: only graph models convert",
        )
    constants = _read_weights(model_json.parent, manifest)
    for node in nodes:
        if node["op"] == "Const" and node["name"] not in constants:
            constants[node["name"]] = _inline_const(node, model_json)
    signature = document.get("signature") or {}
    inputs = [_strip_port(name) for name in (signature.get("inputs") or {})]
    outputs = [_strip_port(name) for name in (signature.get("outputs") or {})]
    output_shapes = {
        _strip_port(name): [int(d.get("size", -1)) for d in _dims(spec)]
        for name, spec in (signature.get("outputs") or {}).items()
        if "tensorShape" in spec
    }
    if not inputs:
        inputs = [n["name"] for n in nodes if n["op"] == "Placeholder"]
    if not outputs:
        consumed = {_split_ref(ref)[0] for n in nodes for ref in n.get("input", [])}
        outputs = [n["name"] for n in nodes if n["name"] not in consumed and n["op"] != "Const"]
    return TfjsGraph(
        nodes=nodes,
        constants=constants,
        input_names=inputs,
        output_names=sorted(outputs, key=_natural_key),
        output_shapes=output_shapes,
        ops={n["op"] for n in nodes},
    )


def _read_weights(folder: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    constants: dict[str, np.ndarray] = {}
    for group in manifest:
        try:
            data = b"".join((folder / path).read_bytes() for path in group["paths"])
        except OSError as exc:
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND, f"TFJS weight shard missing in {folder}: {exc}"
            ) from exc
        offset = 0
        for spec in group["weights"]:
            value, offset = _read_weight(spec, data, offset)
            constants[spec["name"]] = value
        if offset != len(data):
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"TFJS weights in {folder} hold {len(data)} bytes, the manifest describes "
                f"{offset}: the shards do not belong to this model.json",
            )
    return constants


def _read_weight(spec: dict, data: bytes, offset: int) -> tuple[np.ndarray, int]:
    """One manifest entry at `offset`; returns (value, the offset after it)."""
    shape = [int(d) for d in spec.get("shape", [])]
    count = int(np.prod(shape)) if shape else 1
    quantization = spec.get("quantization")
    stored = quantization["dtype"] if quantization else spec["dtype"]
    dtype = _NUMPY_OF_MANIFEST_DTYPE.get(stored)
    if dtype is None:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"TFJS weight {spec['name']} is stored as {stored!r}, which this converter does not "
            f"read (it reads {', '.join(sorted(_NUMPY_OF_MANIFEST_DTYPE))})",
        )
    end = offset + count * dtype.itemsize
    if end > len(data):
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"TFJS weight {spec['name']} runs past the end of its shards"
        )
    raw = np.frombuffer(data, dtype, count, offset).reshape(shape)
    if quantization and stored == "float16":
        value = raw.astype(np.float32)
    elif quantization:  # affine uint8/uint16: q * scale + min
        value = raw.astype(np.float32) * np.float32(quantization["scale"])
        value = value + np.float32(quantization["min"])
        if spec["dtype"] == "int32":
            value = np.round(value).astype(np.int32)
    elif stored == "bool":
        value = raw.astype(bool)
    else:
        value = raw.copy()
    return value, end


def _inline_const(node: dict, model_json: Path) -> np.ndarray:
    """A `Const` whose value sits in the topology (scalars, small shapes) instead of the bin."""
    tensor = node.get("attr", {}).get("value", {}).get("tensor")
    if tensor is None:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model_json}: constant {node['name']} has no value in the weights manifest",
        )
    dims = [int(d.get("size", 0)) for d in tensor.get("tensorShape", {}).get("dim", [])]
    if tensor.get("dtype") == "DT_FLOAT":
        values = [float(v) for v in tensor.get("floatVal", [])]
        dtype = np.float32
    elif tensor.get("dtype") in ("DT_INT32", "DT_INT64"):
        values = [int(v) for v in tensor.get("intVal", tensor.get("int64Val", []))]
        dtype = np.int32
    else:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model_json}: inline constant {node['name']} of type {tensor.get('dtype')} "
            "is not supported",
        )
    count = int(np.prod(dims)) if dims else 1
    array = np.asarray(values, dtype)
    return np.broadcast_to(array, (count,)).reshape(dims).copy() if array.size == 1 else array


def _dims(spec: dict) -> list[dict]:
    return spec.get("tensorShape", {}).get("dim", [])


def _strip_port(name: str) -> str:
    return name.split(":")[0]


def _split_ref(ref: str) -> tuple[str, int]:
    """`node:k` -> (node, k); `node` -> (node, 0); `^node` (control edge) -> (node, -1)."""
    if ref.startswith("^"):
        return ref[1:], -1
    name, _, port = ref.partition(":")
    return name, int(port) if port else 0


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


# --- conversion ---------------------------------------------------------------------------


def tfjs_graph_to_onnx(
    model_json: Path, *, dynamic_batch: bool = True, graph_name: str | None = None
) -> onnx.ModelProto:
    """The ONNX model (opset 17, IR 8) of the TFJS graph model at `model_json`."""
    graph = read_tfjs_graph(model_json)
    unsupported = sorted(graph.ops - set(SUPPORTED_OPS))
    if unsupported:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model_json} uses TFJS ops this converter does not map: {', '.join(unsupported)} "
            f"(it maps {', '.join(sorted(SUPPORTED_OPS))}; see dp_tools/tfjs_to_onnx.py)",
        )
    builder = _OnnxBuilder(graph, dynamic_batch)
    for node in _topological_order(graph.nodes):
        builder.convert(node)
    model = _with_output_shapes(builder.model(graph_name or Path(model_json).stem))
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"the ONNX model converted from {model_json} does not validate: {exc}",
        ) from exc
    return model


def _with_output_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Outputs the signature gave no shape get the inferred one (the checker wants a shape)."""
    if all(o.type.tensor_type.HasField("shape") for o in model.graph.output):
        return model
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
    for output in model.graph.output:
        if not output.type.tensor_type.HasField("shape") and output.name in known:
            # (inference fills graph outputs in place, intermediate values in value_info)
            output.type.CopyFrom(known[output.name].type)
    return model


def _topological_order(nodes: list[dict]) -> list[dict]:
    """Nodes so that every node comes after the nodes it reads (TFJS files need not be)."""
    by_name = {n["name"]: n for n in nodes}
    ordered: list[dict] = []
    state: dict[str, int] = {}  # 1: visiting, 2: done
    for root in nodes:
        stack = [(root["name"], False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                state[name] = 2
                ordered.append(by_name[name])
                continue
            if state.get(name):
                continue
            state[name] = 1
            stack.append((name, True))
            for ref in by_name[name].get("input", []):
                parent, _ = _split_ref(ref)
                if parent not in by_name:
                    raise DpError(
                        ErrorCode.MODEL_NOT_FOUND, f"TFJS node {name} reads unknown node {parent}"
                    )
                if state.get(parent) == 1:
                    raise DpError(ErrorCode.MODEL_NOT_FOUND, f"TFJS graph has a cycle at {name}")
                if not state.get(parent):
                    stack.append((parent, False))
    return ordered


def _attr_int_list(node: dict, key: str, default: list[int]) -> list[int]:
    values = node.get("attr", {}).get(key, {}).get("list", {}).get("i")
    return [int(v) for v in values] if values else list(default)


def _attr_string(node: dict, key: str, default: str) -> str:
    value = node.get("attr", {}).get(key, {}).get("s")
    return base64.b64decode(value).decode("ascii") if value else default


def _attr_float(node: dict, key: str, default: float) -> float:
    value = node.get("attr", {}).get(key, {}).get("f")
    return float(value) if value is not None else default


def _attr_bool(node: dict, key: str) -> bool:
    return bool(node.get("attr", {}).get(key, {}).get("b", False))


class _OnnxBuilder:
    """Accumulates ONNX nodes and initializers while walking the TF nodes in order."""

    def __init__(self, graph: TfjsGraph, dynamic_batch: bool):
        self.graph = graph
        self.dynamic_batch = dynamic_batch
        self.constants: dict[str, np.ndarray] = dict(graph.constants)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}
        self.inputs: list[onnx.ValueInfoProto] = []
        self._unique = 0

    # names and constants
    @staticmethod
    def value_name(ref: str) -> str:
        name, port = _split_ref(ref)
        return name if port == 0 else f"{name}__{port}"

    def is_constant(self, ref: str) -> bool:
        return self.value_name(ref) in self.constants

    def constant(self, ref: str) -> np.ndarray:
        name = self.value_name(ref)
        if name not in self.constants:
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"TFJS input {ref} must be a constant for this converter (it is computed)",
            )
        return self.constants[name]

    def tensor(self, ref: str) -> str:
        """The ONNX value name for a TF input; a constant becomes an initializer once."""
        name = self.value_name(ref)
        if name in self.constants and name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(self.constants[name], name)
        return name

    def new_constant(self, hint: str, value: np.ndarray) -> str:
        self._unique += 1
        name = f"{hint}__const{self._unique}"
        self.initializers[name] = numpy_helper.from_array(value, name)
        return name

    def fresh(self, hint: str) -> str:
        self._unique += 1
        return f"{hint}__{self._unique}"

    def add(self, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        self.nodes.append(
            helper.make_node(op, inputs, outputs, name=self.fresh(outputs[0]), **attrs)
        )

    # the walk
    def convert(self, node: dict) -> None:
        op = node["op"]
        data_inputs = [ref for ref in node.get("input", []) if not ref.startswith("^")]
        if op == "Const":
            return
        if op in _FOLDABLE and all(self.is_constant(ref) for ref in data_inputs):
            values = [self.constant(ref) for ref in data_inputs]
            self.constants[node["name"]] = _FOLDABLE[op](node, values)
            return
        SUPPORTED_OPS[op](self, node, data_inputs)

    def model(self, name: str) -> onnx.ModelProto:
        outputs = []
        for out in self.graph.output_names:
            onnx_name = self.value_name(out)
            dims = self.graph.output_shapes.get(out)
            if dims is not None and self.dynamic_batch and dims and dims[0] in (1, -1):
                dims = [BATCH_DIM, *dims[1:]]
            if dims is not None:
                dims = [d if isinstance(d, str) or d >= 0 else None for d in dims]
            outputs.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, dims))
        graph = helper.make_graph(
            self.nodes, name, self.inputs, outputs, list(self.initializers.values())
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="dataprocessor.tfjs_graph_to_onnx",
        )
        model.ir_version = IR_VERSION
        return model


# --- op handlers ---------------------------------------------------------------------------


def _placeholder(b: _OnnxBuilder, node: dict, _inputs: list[str]) -> None:
    attr = node.get("attr", {})
    dims = [int(d.get("size", -1)) for d in attr.get("shape", {}).get("shape", {}).get("dim", [])]
    elem = _TF_DTYPE.get(attr.get("dtype", {}).get("type", "DT_FLOAT"))
    if elem is None:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"TFJS input {node['name']} has an unsupported dtype"
        )
    shape: list = [d if d >= 0 else None for d in dims]
    if b.dynamic_batch and shape and shape[0] in (1, None):
        shape[0] = BATCH_DIM
    b.inputs.append(helper.make_tensor_value_info(node["name"], elem, shape))


def _unary(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    b.add(_UNARY[node["op"]], [b.tensor(inputs[0])], [node["name"]])


def _binary(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    left, right = inputs
    if node["op"] == "BiasAdd" and _attr_string(node, "data_format", "NHWC") == "NCHW":
        bias = b.constant(right).reshape(-1, 1, 1)
        right_name = b.new_constant(node["name"], bias)
        b.add("Add", [b.tensor(left), right_name], [node["name"]])
        return
    b.add(_BINARY[node["op"]], [b.tensor(left), b.tensor(right)], [node["name"]])


def _leaky_relu(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    alpha = _attr_float(node, "alpha", 0.2)
    b.add("LeakyRelu", [b.tensor(inputs[0])], [node["name"]], alpha=alpha)


def _relu6(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    low = b.new_constant(node["name"], np.array(0.0, np.float32))
    high = b.new_constant(node["name"], np.array(6.0, np.float32))
    b.add("Clip", [b.tensor(inputs[0]), low, high], [node["name"]])


def _transpose(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    perm = [int(v) for v in b.constant(inputs[1]).ravel()]
    b.add("Transpose", [b.tensor(inputs[0])], [node["name"]], perm=perm)


def _reshape(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    target = b.constant(inputs[1]).astype(np.int64).ravel()
    if b.dynamic_batch and target.size and target[0] == 1:
        target = target.copy()
        target[0] = 0  # ONNX: keep the input's first (batch) dimension
    shape = b.new_constant(node["name"], target)
    b.add("Reshape", [b.tensor(inputs[0]), shape], [node["name"]])


def _pad(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    paddings = b.constant(inputs[1]).astype(np.int64).reshape(-1, 2)
    pads = b.new_constant(node["name"], np.concatenate([paddings[:, 0], paddings[:, 1]]))
    onnx_inputs = [b.tensor(inputs[0]), pads]
    if node["op"] == "PadV2":
        value = np.asarray(b.constant(inputs[2]), np.float32).reshape(())
        onnx_inputs.append(b.new_constant(node["name"], value))
    b.add("Pad", onnx_inputs, [node["name"]], mode="constant")


def _concat(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    axis = int(b.constant(inputs[-1]))
    b.add("Concat", [b.tensor(ref) for ref in inputs[:-1]], [node["name"]], axis=axis)


def _split(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    count = int(node.get("attr", {}).get("num_split", {}).get("i", 1))
    outputs = [node["name"]] + [f"{node['name']}__{k}" for k in range(1, count)]
    if node["op"] == "SplitV":
        sizes = b.constant(inputs[1]).astype(np.int64).ravel()
        if (sizes < 0).any():
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"TFJS SplitV {node['name']} has an inferred (-1) size: not supported",
            )
        axis = int(b.constant(inputs[2]))
        split = b.new_constant(node["name"], sizes)
        b.add("Split", [b.tensor(inputs[0]), split], outputs, axis=axis)
    else:  # Split(axis, value): equal parts
        axis = int(b.constant(inputs[0]))
        b.add("Split", [b.tensor(inputs[1])], outputs, axis=axis, num_outputs=count)


def _spatial_attrs(node: dict, kernel: list[int] | None = None) -> dict:
    """ONNX pads/strides/dilations of a TF NHWC or NCHW conv/pool node."""
    data_format = _attr_string(node, "data_format", "NHWC")
    spatial = [1, 2] if data_format == "NHWC" else [2, 3]
    strides = _attr_int_list(node, "strides", [1, 1, 1, 1])
    dilations = _attr_int_list(node, "dilations", [1, 1, 1, 1])
    attrs: dict = {"strides": [strides[i] for i in spatial]}
    if kernel is None:
        attrs["dilations"] = [dilations[i] for i in spatial]
    padding = _attr_string(node, "padding", "VALID")
    if padding == "SAME":
        attrs["auto_pad"] = "SAME_UPPER"  # TF puts the odd pixel at the end, as SAME_UPPER
    elif padding == "EXPLICIT":
        explicit = _attr_int_list(node, "explicit_paddings", [0] * 8)
        pairs = [explicit[2 * i : 2 * i + 2] for i in spatial]
        attrs["pads"] = [pairs[0][0], pairs[1][0], pairs[0][1], pairs[1][1]]
    elif padding != "VALID":
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"TFJS node {node['name']}: padding {padding!r} unsupported"
        )
    if kernel is not None:
        ksize = _attr_int_list(node, "ksize", [1, 1, 1, 1])
        attrs["kernel_shape"] = [ksize[i] for i in spatial]
    return attrs


def _in_nchw(b: _OnnxBuilder, node: dict, ref_name: str, op: Callable[[str, str], None]) -> None:
    """Run `op(nchw_in, nchw_out)` on an NHWC tensor (ONNX convs and pools are NCHW)."""
    if _attr_string(node, "data_format", "NHWC") == "NCHW":
        op(ref_name, node["name"])
        return
    nchw_in, nchw_out = b.fresh(f"{node['name']}/nchw_in"), b.fresh(f"{node['name']}/nchw_out")
    b.add("Transpose", [ref_name], [nchw_in], perm=_NHWC_TO_NCHW)
    op(nchw_in, nchw_out)
    b.add("Transpose", [nchw_out], [node["name"]], perm=_NCHW_TO_NHWC)


def _conv2d(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    filters = b.constant(inputs[1])  # HWIO
    if filters.ndim != 4:
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"TFJS Conv2D {node['name']}: filter not 4-D")
    weights = b.new_constant(
        f"{node['name']}/W", np.ascontiguousarray(filters.transpose(3, 2, 0, 1))
    )
    attrs = _spatial_attrs(node)
    attrs["kernel_shape"] = list(filters.shape[:2])

    def conv(x: str, y: str) -> None:
        b.add("Conv", [x, weights], [y], **attrs)

    _in_nchw(b, node, b.tensor(inputs[0]), conv)


def _pool(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    attrs = _spatial_attrs(node, kernel=[])
    onnx_op = "MaxPool" if node["op"] == "MaxPool" else "AveragePool"

    def pool(x: str, y: str) -> None:
        b.add(onnx_op, [x], [y], **attrs)

    _in_nchw(b, node, b.tensor(inputs[0]), pool)


def _resize_bilinear(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    size = b.constant(inputs[1]).astype(np.int64).ravel()
    if _attr_bool(node, "align_corners"):
        mode = "align_corners"
    elif _attr_bool(node, "half_pixel_centers"):
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    name = node["name"]
    height_width = b.new_constant(name, size)

    def resize(x: str, y: str) -> None:
        # ONNX sizes cover all four axes: batch and channels come from the input at run time,
        # so a dynamic batch stays dynamic.
        batch_channels = b.fresh(f"{name}/batch_channels")
        sizes = b.fresh(f"{name}/sizes")
        b.add("Shape", [x], [batch_channels], start=0, end=2)
        b.add("Concat", [batch_channels, height_width], [sizes], axis=0)
        b.add(
            "Resize",
            [x, "", "", sizes],
            [y],
            mode="linear",
            coordinate_transformation_mode=mode,
        )

    _in_nchw(b, node, b.tensor(inputs[0]), resize)  # ResizeBilinear is always NHWC


def _unsupported_computed(b: _OnnxBuilder, node: dict, inputs: list[str]) -> None:
    raise DpError(
        ErrorCode.MODEL_NOT_FOUND,
        f"TFJS {node['op']} {node['name']} has computed inputs; this converter only folds it "
        "when every input is a constant",
    )


# Constant folding in numpy: op -> f(node, input values) -> value.
def _fold_sparse_to_dense(_node: dict, values: list[np.ndarray]) -> np.ndarray:
    indices, shape, sparse, default = values
    dense = np.full(shape.astype(np.int64).ravel(), default, dtype=np.asarray(sparse).dtype)
    indices = np.asarray(indices, np.int64).reshape(-1, dense.ndim) if dense.ndim else indices
    for index, value in zip(indices, np.broadcast_to(sparse, (len(indices),)), strict=True):
        dense[tuple(index)] = value
    return dense


def _fold_cast(node: dict, values: list[np.ndarray]) -> np.ndarray:
    target = node.get("attr", {}).get("DstT", {}).get("type", "DT_FLOAT")
    return values[0].astype(np.float32 if target == "DT_FLOAT" else np.int32)


_FOLDABLE: dict[str, Callable[[dict, list[np.ndarray]], np.ndarray]] = {
    "SparseToDense": _fold_sparse_to_dense,
    "Cast": _fold_cast,
    "Add": lambda _n, v: np.add(v[0], v[1]),
    "AddV2": lambda _n, v: np.add(v[0], v[1]),
    "Sub": lambda _n, v: np.subtract(v[0], v[1]),
    "Mul": lambda _n, v: np.multiply(v[0], v[1]),
    "Identity": lambda _n, v: v[0],
}

SUPPORTED_OPS: dict[str, Callable[[_OnnxBuilder, dict, list[str]], None]] = {
    "Placeholder": _placeholder,
    "Const": lambda *_: None,
    "Identity": _unary,
    "Sigmoid": _unary,
    "Tanh": _unary,
    "Relu": _unary,
    "Relu6": _relu6,
    "LeakyRelu": _leaky_relu,
    "Add": _binary,
    "AddV2": _binary,
    "BiasAdd": _binary,
    "Sub": _binary,
    "Mul": _binary,
    "RealDiv": _binary,
    "Transpose": _transpose,
    "Reshape": _reshape,
    "Pad": _pad,
    "PadV2": _pad,
    "ConcatV2": _concat,
    "Split": _split,
    "SplitV": _split,
    "Conv2D": _conv2d,
    "MaxPool": _pool,
    "AvgPool": _pool,
    "ResizeBilinear": _resize_bilinear,
    "SparseToDense": _unsupported_computed,
    "Cast": _unsupported_computed,
}
