"""Faces per frame: boxes, scores, 478-point meshes, and how much of the frame they cover.

Input: what a face model found on each sampled frame (`FrameFaces`, one per frame, made by
`dp_resources.models.families.faces.FaceLandmarker.detect` or by hand) and the frame times in seconds.
No model runs here; this module only shapes and summarises.

Coordinates are normalised to the frame, so they do not depend on the analysis size:
x = pixel x / frame width, y = pixel y / frame height (0..1, origin top left).
- `boxes` are x0, y0, x1, y1, clipped to the frame (a face cut by the frame edge keeps
  only its visible part).
- `landmarks` are [k, 478, 3]: x, y as above (not clipped; a mesh may reach past the
  edge), and z the relative depth MediaPipe reports (same scale as x, i.e. in units of
  frame width; origin at the head's centre, smaller is nearer the camera). The 478 points
  are the 468-point face mesh plus 10 iris points. A face box without a mesh has NaN
  landmarks.

Per frame:
- `face_area_ratio`: the share of the frame's area covered by the union of the face boxes
  (exact union of axis-aligned rectangles, so overlapping faces are not counted twice);
  0 with no face. Since boxes are normalised, box area = share of the frame's pixels.
- `largest_face_ratio`: the area share of the largest single face box; 0 with no face.

Video scalars: `frames_with_face_ratio` (share of sampled frames with at least one face),
`mean_face_count`, `max_face_count`, `mean_face_area_ratio` (mean over frames, faceless
frames count as 0). With no frame at all they are NaN (0 for `max_face_count`).
Status `empty` when no frame has a face: a valid result, not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.feature_stats import Arrays, finite_values, mean_or_nan

LANDMARK_COUNT = 478  # 468 face-mesh points + 2 x 5 iris points (MediaPipe, refined)
MESH_MATCH_MIN_IOU = 0.3


@dataclass(frozen=True)
class FrameFaces:
    """The faces found on one frame (normalised coordinates, see the module docstring).

    `boxes` float32 [k, 4] x0, y0, x1, y1 in 0..1; `scores` float32 [k] detector
    confidence 0..1; `landmarks` float32 [k, 478, 3], NaN rows for a face without a mesh.
    Build it with `frame_faces` (checks shapes, clips boxes) rather than directly.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    @property
    def count(self) -> int:
        return len(self.scores)

    @staticmethod
    def empty() -> FrameFaces:
        return FrameFaces(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, LANDMARK_COUNT, 3), np.float32),
        )


def frame_faces(
    boxes: np.ndarray,
    scores: np.ndarray,
    landmarks: np.ndarray | None = None,
) -> FrameFaces:
    """A checked `FrameFaces`: boxes clipped to the frame, faces sorted by descending score
    (ties keep their order), landmarks NaN when not given."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    k = len(boxes)
    if scores.shape != (k,):
        raise DpError(ErrorCode.INTERNAL, f"{k} face boxes but {scores.size} scores")
    if landmarks is None:
        landmarks = np.full((k, LANDMARK_COUNT, 3), np.nan, np.float32)
    landmarks = np.asarray(landmarks, np.float32)
    if landmarks.shape != (k, LANDMARK_COUNT, 3):
        raise DpError(
            ErrorCode.INTERNAL,
            f"face landmarks must be [{k}, {LANDMARK_COUNT}, 3], got {landmarks.shape}",
        )
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise DpError(ErrorCode.MODEL_BAD_OUTPUT, "face boxes or scores are not finite")
    order = np.argsort(-scores, kind="stable")
    return FrameFaces(clip_boxes(boxes)[order], scores[order], landmarks[order])


def clip_boxes(boxes: np.ndarray) -> np.ndarray:
    """Boxes [k, 4] (x0, y0, x1, y1, normalised) clipped to the frame, float32; a box
    entirely outside collapses to zero area on the edge."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    clipped = np.clip(boxes, 0.0, 1.0)
    # Keep x1 >= x0 and y1 >= y0 so that widths and heights are never negative.
    clipped[:, 2] = np.maximum(clipped[:, 2], clipped[:, 0])
    clipped[:, 3] = np.maximum(clipped[:, 3], clipped[:, 1])
    return clipped


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas [k] of boxes [k, 4] (x0, y0, x1, y1); 0 for inverted boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union [k, m] of boxes a [k, 4] and b [m, 4] (x0, y0, x1, y1);
    0 where the union is empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(width, 0) * np.maximum(height, 0)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def landmark_boxes(meshes: np.ndarray) -> np.ndarray:
    """The bounding box [m, 4] (x0, y0, x1, y1) of the x, y of each mesh [m, n, 3]."""
    meshes = np.asarray(meshes, np.float32)
    if len(meshes) == 0:
        return np.zeros((0, 4), np.float32)
    xy = meshes[:, :, :2]
    return np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1)


def match_meshes_to_boxes(
    boxes: np.ndarray, meshes: np.ndarray, min_iou: float = MESH_MATCH_MIN_IOU
) -> np.ndarray:
    """Landmarks [k, 478, 3] for detection boxes [k, 4], taken from meshes [m, 478, 3].

    Each mesh goes to at most one box and each box gets at most one mesh: pairs are taken
    greedily by descending IoU between the box and the mesh's bounding box, down to
    `min_iou`. A box left without a mesh gets NaN; a mesh left without a box is dropped
    (every face the artifact reports is a detection box).
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    meshes = np.asarray(meshes, np.float32).reshape(-1, LANDMARK_COUNT, 3)
    out = np.full((len(boxes), LANDMARK_COUNT, 3), np.nan, np.float32)
    if len(boxes) == 0 or len(meshes) == 0:
        return out
    iou = box_iou(boxes, landmark_boxes(meshes))
    box_served = np.zeros(len(boxes), bool)
    mesh_taken = np.zeros(len(meshes), bool)
    # Greedy is enough here: a frame holds a handful of faces, and two boxes that both
    # overlap one mesh by >= min_iou would be the detector's own duplicates.
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        box, mesh = np.unravel_index(flat, iou.shape)
        if iou[box, mesh] < min_iou:
            break
        if not (box_served[box] or mesh_taken[mesh]):
            out[box] = meshes[mesh]
            box_served[box] = mesh_taken[mesh] = True
    return out


def union_area(boxes: np.ndarray) -> float:
    """Exact area of the union of axis-aligned boxes [k, 4] (x0, y0, x1, y1).

    Coordinate compression: the boxes' edges cut the plane into a grid of cells, each
    either inside some box or not; the union is the sum of the covered cells."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    boxes = boxes[box_areas(boxes) > 0]
    if len(boxes) == 0:
        return 0.0
    xs = np.unique(boxes[:, [0, 2]])
    ys = np.unique(boxes[:, [1, 3]])
    cx = 0.5 * (xs[:-1] + xs[1:])
    cy = 0.5 * (ys[:-1] + ys[1:])
    inside_x = (boxes[:, 0, None] <= cx[None, :]) & (cx[None, :] <= boxes[:, 2, None])
    inside_y = (boxes[:, 1, None] <= cy[None, :]) & (cy[None, :] <= boxes[:, 3, None])
    covered = (inside_y[:, :, None] & inside_x[:, None, :]).any(axis=0)  # [cells y, cells x]
    return float((covered * np.outer(np.diff(ys), np.diff(xs))).sum())


def face_area_ratio(faces: FrameFaces) -> float:
    """Share of the frame covered by the union of the (clipped) face boxes, 0..1."""
    return union_area(clip_boxes(faces.boxes))


def largest_face_ratio(faces: FrameFaces) -> float:
    """Area share of the largest single (clipped) face box, 0..1; 0 with no face."""
    areas = box_areas(clip_boxes(faces.boxes))
    return float(areas.max()) if len(areas) else 0.0


@dataclass(frozen=True)
class FaceLandmarks:
    """The `core_face_landmarks` result (module docstring for units and definitions).

    Per frame [N]: `frame_times_s` float64, `face_count` int32, `face_area_ratio` and
    `largest_face_ratio` float32. Per face [M] (faces of all frames, in frame order):
    `boxes` float32 [M, 4], `box_frame` int32 [M] (index into the frames), `scores` float32
    [M], `landmarks` float32 [M, 478, 3] (NaN for a face without a mesh).
    """

    frame_times_s: np.ndarray
    face_count: np.ndarray
    boxes: np.ndarray
    box_frame: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    face_area_ratio: np.ndarray
    largest_face_ratio: np.ndarray
    frames_with_face_ratio: float
    mean_face_count: float
    max_face_count: int
    mean_face_area_ratio: float
    status: Literal["ok", "empty"]
    reason: str = ""

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays: plain numeric numpy, scalars as 0-d arrays."""
        return {
            "frame_times_s": self.frame_times_s,
            "face_count": self.face_count,
            "boxes": self.boxes,
            "box_frame": self.box_frame,
            "scores": self.scores,
            "landmarks": self.landmarks,
            "face_area_ratio": self.face_area_ratio,
            "largest_face_ratio": self.largest_face_ratio,
            "frames_with_face_ratio": np.asarray(self.frames_with_face_ratio, np.float64),
            "mean_face_count": np.asarray(self.mean_face_count, np.float64),
            "max_face_count": np.asarray(self.max_face_count, np.int32),
            "mean_face_area_ratio": np.asarray(self.mean_face_area_ratio, np.float64),
        }


def face_landmarks(frame_times_s: np.ndarray, frames: Sequence[FrameFaces]) -> FaceLandmarks:
    """Aggregate per-frame detections (one `FrameFaces` per sampled frame, in the order of
    `frame_times_s`, seconds) into the artifact arrays; status `empty` when no face."""
    times = np.asarray(frame_times_s, np.float64).reshape(-1)
    frames = list(frames)
    if len(frames) != len(times):
        raise DpError(
            ErrorCode.INTERNAL, f"{len(frames)} face results for {len(times)} frame times"
        )
    n = len(frames)
    counts = np.array([f.count for f in frames], np.int32)
    area = np.array([face_area_ratio(f) for f in frames], np.float32)
    largest = np.array([largest_face_ratio(f) for f in frames], np.float32)
    has_faces = [f for f in frames if f.count]

    def stacked(name: str, empty_shape: tuple[int, ...]) -> np.ndarray:
        parts = [getattr(f, name) for f in has_faces]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(empty_shape)

    nan = float("nan")
    total = int(counts.sum())
    if n == 0:
        reason = "no frame was sampled"
    elif total == 0:
        reason = f"no face found in {n} sampled frames"
    else:
        reason = ""
    return FaceLandmarks(
        frame_times_s=times,
        face_count=counts,
        boxes=stacked("boxes", (0, 4)).astype(np.float32),
        box_frame=np.repeat(np.arange(n, dtype=np.int32), counts),
        scores=stacked("scores", (0,)).astype(np.float32),
        landmarks=stacked("landmarks", (0, LANDMARK_COUNT, 3)).astype(np.float32),
        face_area_ratio=area,
        largest_face_ratio=largest,
        frames_with_face_ratio=float(np.mean(counts > 0)) if n else nan,
        mean_face_count=float(np.mean(counts)) if n else nan,
        max_face_count=int(counts.max()) if n else 0,
        mean_face_area_ratio=float(np.mean(area, dtype=np.float64)) if n else nan,
        status="ok" if total else "empty",
        reason=reason,
    )


def _features(a: Arrays) -> dict[str, float]:
    faces = finite_values(a, "face_count")
    return {
        "core_face_landmarks_faces_per_frame_mean": mean_or_nan(faces),
        "core_face_landmarks_frames_with_face_ratio": mean_or_nan((faces > 0).astype(np.float64)),
    }


# core_face_landmarks' feature-table columns ({column: description, units}).
FACE_LANDMARKS_FEATURES = FeatureSet(
    _features,
    {
        "core_face_landmarks_faces_per_frame_mean": "mean faces per analysis frame",
        "core_face_landmarks_frames_with_face_ratio": "share of frames with >= 1 face, 0..1",
    },
)
