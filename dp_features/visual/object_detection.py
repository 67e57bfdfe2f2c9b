"""COCO object detection with NanoDet: preprocessing, decoding, NMS, and the artifact arrays.

Pure numpy (+ OpenCV for resizing); the model runtime lives in `dp_resources/models/families/nanodet.py`.

Preprocessing, the NanoDet way: each uint8 RGB frame is letterboxed into the 416 x 416 input
(scaled to fit, aspect kept, centred, black bars), turned to BGR, and normalised per channel
with mean [103.53, 116.28, 123.675] and std [57.375, 57.12, 58.395] (0..255 scale), as NCHW
float32. `Letterbox` keeps the scale and offset that map boxes back to the frame.

Model outputs per frame, for the three levels (strides 8, 16, 32: 52 x 52, 26 x 26, 13 x 13
cells, row-major): class scores (sigmoid applied) [cells, 80], and box distributions
[cells, 44] = 4 sides (left, top, right, bottom) x 11 bins. Decoding (generalised focal loss):
softmax over the 11 bins, expected bin index x stride = the distance from the cell centre
((col + 0.5) * stride, (row + 0.5) * stride) to that side, in input pixels. Every
(cell, class) with score >= `score_threshold` is a candidate; greedy NMS per class at
`iou_threshold`, then the `max_detections` best per frame.

Boxes in the artifact are normalised to the frame: x0, y0, x1, y1 in 0..1 of its width and
height (origin top-left). Times are seconds from the start of the video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.feature_stats import Arrays, finite_values, mean_or_nan, ratio_or_nan

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_BINS = 11  # reg_max + 1
N_CLASSES = 80
PERSON = 0
BGR_MEAN = np.array([103.53, 116.28, 123.675], np.float32)
BGR_STD = np.array([57.375, 57.12, 58.395], np.float32)
# (value - mean) / std for every uint8 value, per BGR channel: float32 [3, 256].
_NORMALISED = (np.arange(256, dtype=np.float32)[None, :] - BGR_MEAN[:, None]) / BGR_STD[:, None]

# NanoDet's class order (COCO 2017's 80 detection classes, in category-id order).
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip


@dataclass(frozen=True)
class Letterbox:
    """How a frame of `width` x `height` pixels sits in the square model input: input pixel
    x = frame x * scale_x + offset_x (likewise y). scale_x and scale_y differ only by the
    rounding of the resized size."""

    width: int
    height: int
    scale_x: float
    scale_y: float
    offset_x: int
    offset_y: int

    @classmethod
    def fit(cls, width: int, height: int, size: int = INPUT_SIZE) -> Letterbox:
        scale = min(size / width, size / height)
        resized_w = min(size, max(1, round(width * scale)))
        resized_h = min(size, max(1, round(height * scale)))
        return cls(
            width=width,
            height=height,
            scale_x=resized_w / width,
            scale_y=resized_h / height,
            offset_x=(size - resized_w) // 2,
            offset_y=(size - resized_h) // 2,
        )

    @property
    def resized_size(self) -> tuple[int, int]:
        """(width, height) of the frame inside the input, in input pixels."""
        return round(self.width * self.scale_x), round(self.height * self.scale_y)

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Frame-pixel boxes [K, 4] (x0, y0, x1, y1) -> input-pixel boxes."""
        scale = np.array([self.scale_x, self.scale_y] * 2)
        offset = np.array([self.offset_x, self.offset_y] * 2)
        return np.asarray(boxes, np.float64) * scale + offset

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Input-pixel boxes [K, 4] -> frame-pixel boxes (not clipped)."""
        scale = np.array([self.scale_x, self.scale_y] * 2)
        offset = np.array([self.offset_x, self.offset_y] * 2)
        return (np.asarray(boxes, np.float64) - offset) / scale

    def to_normalised(self, boxes: np.ndarray) -> np.ndarray:
        """Input-pixel boxes [K, 4] -> 0..1 of the frame's width/height, clipped, float32."""
        frame = self.to_frame(boxes) / np.array([self.width, self.height] * 2)
        return np.clip(frame, 0.0, 1.0).astype(np.float32)


def letterbox_frames(frames: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, Letterbox]:
    """uint8 RGB frames [n, H, W, 3] -> the model input float32 [n, 3, size, size] (BGR,
    normalised as NanoDet) and the `Letterbox` they share."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DpError(
            ErrorCode.INTERNAL,
            f"object detection takes uint8 RGB frames [n, H, W, 3], got {frames.dtype} "
            f"{frames.shape}",
        )
    n, height, width = frames.shape[:3]
    box = Letterbox.fit(width, height, size)
    resized_w, resized_h = box.resized_size
    # Bars are black pixels (0) before normalisation, as NanoDet's warp leaves them.
    canvas = np.zeros((n, size, size, 3), np.uint8)
    # INTER_AREA when shrinking (no aliasing from 1080p down to 416), linear when enlarging.
    interpolation = cv2.INTER_AREA if resized_w < width else cv2.INTER_LINEAR
    rows = slice(box.offset_y, box.offset_y + resized_h)
    cols = slice(box.offset_x, box.offset_x + resized_w)
    for i, frame in enumerate(frames):
        if (resized_w, resized_h) == (width, height):
            canvas[i, rows, cols] = frame
        else:
            canvas[i, rows, cols] = cv2.resize(
                frame, (resized_w, resized_h), interpolation=interpolation
            )
    # Normalising by table lookup writes NCHW BGR straight from the uint8 RGB canvas: no float
    # pass over channels-last pixels and no transpose copy.
    inputs = np.empty((n, 3, size, size), np.float32)
    for bgr_channel, rgb_channel in enumerate((2, 1, 0)):
        inputs[:, bgr_channel] = _NORMALISED[bgr_channel][canvas[..., rgb_channel]]
    return inputs, box


def level_shapes(size: int = INPUT_SIZE) -> list[tuple[int, int, int]]:
    """(stride, rows, cols) per output level."""
    return [(s, -(-size // s), -(-size // s)) for s in STRIDES]


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def decode_boxes(
    distributions: np.ndarray, cells: np.ndarray, stride: int, cols: int
) -> np.ndarray:
    """Boxes [k, 4] (x0, y0, x1, y1 in input pixels) of cells [k] (row-major indices into a
    level with `cols` columns) from their box distributions [k, 44]."""
    bins = _softmax(distributions.reshape(-1, 4, REG_BINS).astype(np.float64), axis=-1)
    distances = bins @ np.arange(REG_BINS, dtype=np.float64) * stride  # [k, 4] l, t, r, b
    centre_x = (cells % cols + 0.5) * stride
    centre_y = (cells // cols + 0.5) * stride
    return np.stack(
        [
            centre_x - distances[:, 0],
            centre_y - distances[:, 1],
            centre_x + distances[:, 2],
            centre_y + distances[:, 3],
        ],
        axis=1,
    )


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one box [4] with boxes [K, 4] (x0, y0, x1, y1)."""
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def per_class_nms(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Indices of the kept candidates, best score first: greedy NMS within each class (boxes
    of different classes never suppress each other)."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    suppressed = np.zeros(len(scores), bool)
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        kept.append(int(i))
        rest = order[rank + 1 :]
        rest = rest[(class_ids[rest] == class_ids[i]) & ~suppressed[rest]]
        if rest.size:
            suppressed[rest[box_iou(boxes[i], boxes[rest]) > iou_threshold]] = True
    return np.asarray(kept, np.int64)


@dataclass(frozen=True)
class FrameDetections:
    """The objects found in one frame: boxes float32 [K, 4] (x0, y0, x1, y1, 0..1 of the
    frame), class_ids int16 [K] (index into COCO_CLASSES), scores float32 [K], best first."""

    boxes: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray

    @classmethod
    def none(cls) -> FrameDetections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.int16), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.scores)


def decode_frame(
    level_scores: Sequence[np.ndarray],
    level_distributions: Sequence[np.ndarray],
    letterbox: Letterbox,
    *,
    score_threshold: float = 0.35,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
    size: int = INPUT_SIZE,
) -> FrameDetections:
    """One frame's detections from its per-level outputs (strides 8, 16, 32 in order)."""
    shapes = level_shapes(size)
    for (stride, rows, cols), scores, distributions in zip(
        shapes, level_scores, level_distributions, strict=True
    ):
        expected = (rows * cols, N_CLASSES), (rows * cols, 4 * REG_BINS)
        if (scores.shape, distributions.shape) != expected:
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"NanoDet level stride {stride}: outputs {scores.shape} and "
                f"{distributions.shape}, expected {expected[0]} and {expected[1]}",
            )
    all_scores = np.concatenate(level_scores)  # [3549, 80]
    cell, class_id = np.nonzero(all_scores >= score_threshold)
    if cell.size == 0:
        return FrameDetections.none()
    # Only the candidate cells are decoded (a handful of the 3549).
    boxes = np.empty((len(cell), 4))
    start = 0
    for (stride, rows, cols), distributions in zip(shapes, level_distributions, strict=True):
        in_level = (cell >= start) & (cell < start + rows * cols)
        if in_level.any():
            local = cell[in_level] - start
            boxes[in_level] = decode_boxes(distributions[local], local, stride, cols)
        start += rows * cols
    scores = all_scores[cell, class_id].astype(np.float32)
    kept = per_class_nms(boxes, scores, class_id, iou_threshold)[:max_detections]
    return FrameDetections(
        boxes=letterbox.to_normalised(boxes[kept]),
        class_ids=class_id[kept].astype(np.int16),
        scores=scores[kept],
    )


def input_space(size: int = INPUT_SIZE) -> Letterbox:
    """The identity letterbox: detections decoded with it are in 0..1 of the model input,
    whatever frame it came from (cross-video batches mix frame sizes)."""
    return Letterbox(width=size, height=size, scale_x=1.0, scale_y=1.0, offset_x=0, offset_y=0)


def to_frame(
    detections: FrameDetections, letterbox: Letterbox, size: int = INPUT_SIZE
) -> FrameDetections:
    """Detections decoded in input space (`input_space`) -> 0..1 of the frame `letterbox`
    put into the input; the same boxes `decode_frame` gives with that letterbox."""
    if not len(detections):
        return detections
    boxes = letterbox.to_normalised(np.asarray(detections.boxes, np.float64) * size)
    return FrameDetections(boxes, detections.class_ids, detections.scores)


# --- the artifact -------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectDetections:
    """All frames' detections, flattened: detection m is in frame `box_frame[m]`."""

    frame_times_s: np.ndarray  # float64 [N], s from the video start
    boxes: np.ndarray  # float32 [M, 4], x0, y0, x1, y1 in 0..1 of the frame
    box_frame: np.ndarray  # int32 [M]
    class_ids: np.ndarray  # int16 [M]
    scores: np.ndarray  # float32 [M]
    class_counts: np.ndarray  # int32 [N, 80], detections per frame per class
    status: Literal["ok", "empty"]

    @property
    def class_names(self) -> np.ndarray:
        names = np.asarray(COCO_CLASSES, dtype=str)
        return names[self.class_ids.astype(np.int64)] if len(self.class_ids) else names[:0]

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays. Headline: `frame_times_s`, `boxes`, `box_frame`,
        `class_names`, `scores`. Video-level summaries are 0-d arrays: `mean_person_count`
        (persons per frame), `max_person_count`, `person_frame_ratio` (share of frames with
        a person, 0..1), `detection_count`; `class_frame_ratio` float32 [80] is the share of
        frames showing each class."""
        n_frames = len(self.frame_times_s)
        persons = self.class_counts[:, PERSON] if n_frames else np.zeros(0, np.int32)
        return {
            "frame_times_s": self.frame_times_s,
            "boxes": self.boxes,
            "box_frame": self.box_frame,
            "class_ids": self.class_ids,
            "class_names": self.class_names,
            "scores": self.scores,
            "class_counts": self.class_counts,
            "coco_classes": np.asarray(COCO_CLASSES, dtype=str),
            "class_frame_ratio": (
                (self.class_counts > 0).mean(axis=0).astype(np.float32)
                if n_frames
                else np.zeros(N_CLASSES, np.float32)
            ),
            "mean_person_count": np.float64(persons.mean() if n_frames else 0.0),
            "max_person_count": np.int32(persons.max() if n_frames else 0),
            "person_frame_ratio": np.float64((persons > 0).mean() if n_frames else 0.0),
            "detection_count": np.int32(len(self.scores)),
        }


def aggregate_detections(
    frame_times_s: np.ndarray, detections: Sequence[FrameDetections]
) -> ObjectDetections:
    """The artifact from one `FrameDetections` per analysed frame; no detection at all is
    the `empty` status (a valid result)."""
    frame_times_s = np.asarray(frame_times_s, np.float64).reshape(-1)
    if len(frame_times_s) != len(detections):
        raise DpError(
            ErrorCode.INTERNAL,
            f"{len(frame_times_s)} frame times for {len(detections)} frames of detections",
        )
    n_frames = len(detections)
    counts = np.array([len(d) for d in detections], np.int64)
    box_frame = np.repeat(np.arange(n_frames, dtype=np.int32), counts)
    if counts.sum():
        boxes = np.concatenate([d.boxes for d in detections]).astype(np.float32)
        class_ids = np.concatenate([d.class_ids for d in detections]).astype(np.int16)
        scores = np.concatenate([d.scores for d in detections]).astype(np.float32)
    else:
        empty = FrameDetections.none()
        boxes, class_ids, scores = empty.boxes, empty.class_ids, empty.scores
    class_counts = np.zeros((n_frames, N_CLASSES), np.int32)
    np.add.at(class_counts, (box_frame, class_ids.astype(np.int64)), 1)
    return ObjectDetections(
        frame_times_s=frame_times_s,
        boxes=boxes.reshape(-1, 4),
        box_frame=box_frame,
        class_ids=class_ids,
        scores=scores,
        class_counts=class_counts,
        status="ok" if len(scores) else "empty",
    )


def _features(a: Arrays) -> dict[str, float]:
    frames = float(finite_values(a, "frame_times_s").size)
    scores = finite_values(a, "scores")
    classes = np.unique(np.asarray(a.get("class_names", np.zeros(0, "<U1"))).astype(str))
    return {
        "core_object_detections_per_frame_mean": ratio_or_nan(float(scores.size), frames),
        "core_object_detections_score_mean": mean_or_nan(scores),
        "core_object_detections_class_count": float(classes.size),
    }


# core_object_detections' feature-table columns ({column: description, units}).
OBJECT_DETECTIONS_FEATURES = FeatureSet(
    _features,
    {
        "core_object_detections_per_frame_mean": "detections per analysis frame",
        "core_object_detections_score_mean": "mean detection score, 0..1",
        "core_object_detections_class_count": "count of distinct detected classes",
    },
)
