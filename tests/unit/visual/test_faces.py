"""Unit tests of dp_features.visual.faces on hand-made boxes and meshes with known answers."""

from __future__ import annotations

import io

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.faces import (
    LANDMARK_COUNT,
    FrameFaces,
    box_iou,
    clip_boxes,
    face_area_ratio,
    face_landmarks,
    frame_faces,
    landmark_boxes,
    largest_face_ratio,
    match_meshes_to_boxes,
    union_area,
)

pytestmark = pytest.mark.unit


def _mesh_filling(box: tuple[float, float, float, float], z: float = 0.0) -> np.ndarray:
    """A [478, 3] mesh whose x, y bounding box is exactly `box` (points on a grid)."""
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, LANDMARK_COUNT)
    xs = x0 + (x1 - x0) * t
    ys = y0 + (y1 - y0) * ((t * 7) % 1.0)
    ys[0], ys[-1] = y0, y1
    return np.stack([xs, ys, np.full_like(xs, z)], axis=1).astype(np.float32)


def _raster_union(boxes: np.ndarray, cells: int = 100) -> float:
    """Union area by counting covered cells; exact for box edges on a 1/cells grid."""
    covered = np.zeros((cells, cells), bool)
    for x0, y0, x1, y1 in np.rint(np.asarray(boxes) * cells).astype(int):
        covered[y0:y1, x0:x1] = True
    return covered.sum() / cells**2


def test_iou_of_known_boxes():
    a = np.array([[0.0, 0.0, 0.5, 0.5]])
    b = np.array([[0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]])
    iou = box_iou(a, b)
    assert iou.shape == (1, 3)
    # overlap 0.25 x 0.25 = 0.0625; union 0.25 + 0.25 - 0.0625 = 0.4375
    np.testing.assert_allclose(iou[0], [0.0625 / 0.4375, 1.0, 0.0])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)
    # degenerate boxes have no union: IoU 0, not NaN
    assert box_iou([[0.2, 0.2, 0.2, 0.2]], [[0.2, 0.2, 0.2, 0.2]])[0, 0] == 0.0


def test_union_area_counts_overlaps_once():
    overlapping = np.array([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]])
    assert union_area(overlapping) == pytest.approx(0.4375)
    nested = np.array([[0.1, 0.1, 0.9, 0.9], [0.3, 0.3, 0.4, 0.4]])
    assert union_area(nested) == pytest.approx(0.64)
    disjoint = np.array([[0.0, 0.0, 0.1, 0.1], [0.5, 0.5, 0.7, 0.6]])
    assert union_area(disjoint) == pytest.approx(0.01 + 0.02)
    assert union_area(np.zeros((0, 4))) == 0.0


def test_union_area_matches_raster_on_random_boxes():
    rng = np.random.default_rng(3)
    for _ in range(30):
        k = int(rng.integers(1, 9))
        corners = rng.integers(0, 101, (k, 2, 2)) / 100
        boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
        assert union_area(boxes) == pytest.approx(_raster_union(boxes), abs=1e-9)


def test_boxes_are_clipped_to_the_frame():
    boxes = np.array([[-0.1, 0.2, 0.3, 1.2], [1.1, 0.1, 1.4, 0.2]])
    clipped = clip_boxes(boxes)
    np.testing.assert_allclose(clipped[0], [0.0, 0.2, 0.3, 1.0])
    # wholly outside: collapses onto the edge with zero area
    np.testing.assert_allclose(clipped[1], [1.0, 0.1, 1.0, 0.2])
    faces = frame_faces(boxes, [0.9, 0.8])
    assert face_area_ratio(faces) == pytest.approx(0.3 * 0.8)
    assert largest_face_ratio(faces) == pytest.approx(0.24)


def test_area_ratios_of_two_overlapping_faces():
    faces = frame_faces([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]], [0.7, 0.9])
    assert face_area_ratio(faces) == pytest.approx(0.4375)
    assert largest_face_ratio(faces) == pytest.approx(0.25)
    assert face_area_ratio(FrameFaces.empty()) == 0.0
    assert largest_face_ratio(FrameFaces.empty()) == 0.0


def test_frame_faces_sorts_by_score_and_fills_missing_landmarks():
    faces = frame_faces([[0.1, 0.1, 0.2, 0.2], [0.5, 0.5, 0.7, 0.7]], [0.6, 0.95])
    np.testing.assert_allclose(faces.scores, [0.95, 0.6])
    np.testing.assert_allclose(faces.boxes[0], [0.5, 0.5, 0.7, 0.7])
    assert faces.landmarks.shape == (2, LANDMARK_COUNT, 3)
    assert np.isnan(faces.landmarks).all()
    assert faces.boxes.dtype == faces.scores.dtype == faces.landmarks.dtype == np.float32


def test_frame_faces_rejects_bad_shapes():
    with pytest.raises(DpError) as info:
        frame_faces([[0.1, 0.1, 0.2, 0.2]], [0.5, 0.6])
    assert info.value.code == ErrorCode.INTERNAL
    with pytest.raises(DpError):
        frame_faces([[0.1, 0.1, 0.2, 0.2]], [0.5], np.zeros((1, 468, 3)))
    with pytest.raises(DpError) as info:
        frame_faces([[0.1, np.nan, 0.2, 0.2]], [0.5])
    assert info.value.code == ErrorCode.MODEL_BAD_OUTPUT


def test_landmark_boxes_are_the_mesh_extent():
    mesh = _mesh_filling((0.2, 0.3, 0.4, 0.6))
    np.testing.assert_allclose(landmark_boxes(mesh[None])[0], [0.2, 0.3, 0.4, 0.6], atol=1e-6)
    assert landmark_boxes(np.zeros((0, LANDMARK_COUNT, 3))).shape == (0, 4)


def test_meshes_match_their_boxes_whatever_the_order():
    boxes = np.array(
        [
            [0.10, 0.10, 0.30, 0.35],  # face A
            [0.60, 0.20, 0.80, 0.45],  # face B
            [0.40, 0.70, 0.50, 0.80],  # face C: the landmark model dropped its mesh
        ]
    )
    # meshes slightly tighter than their boxes (as MediaPipe's are), B first, plus a
    # stray mesh that overlaps no box
    mesh_b = _mesh_filling((0.62, 0.21, 0.79, 0.46), z=2.0)
    mesh_a = _mesh_filling((0.11, 0.12, 0.29, 0.36), z=1.0)
    stray = _mesh_filling((0.90, 0.90, 0.99, 0.99), z=3.0)
    landmarks = match_meshes_to_boxes(boxes, np.stack([mesh_b, stray, mesh_a]))
    assert landmarks.shape == (3, LANDMARK_COUNT, 3)
    np.testing.assert_array_equal(landmarks[0], mesh_a)
    np.testing.assert_array_equal(landmarks[1], mesh_b)
    assert np.isnan(landmarks[2]).all()


def test_one_mesh_serves_one_box():
    # two near-duplicate boxes over one face: only the better-overlapping one gets it
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.12, 0.33, 0.33]])
    mesh = _mesh_filling((0.1, 0.1, 0.3, 0.3))
    landmarks = match_meshes_to_boxes(boxes, mesh[None])
    np.testing.assert_array_equal(landmarks[0], mesh)
    assert np.isnan(landmarks[1]).all()


def test_mesh_below_min_iou_is_not_matched():
    box = np.array([[0.0, 0.0, 0.2, 0.2]])
    mesh = _mesh_filling((0.15, 0.15, 0.35, 0.35))  # IoU 0.0025 / 0.0775 ~ 0.03
    assert np.isnan(match_meshes_to_boxes(box, mesh[None])).all()
    assert np.isfinite(match_meshes_to_boxes(box, mesh[None], min_iou=0.01)).all()
    assert match_meshes_to_boxes(np.zeros((0, 4)), mesh[None]).shape == (0, LANDMARK_COUNT, 3)


def _four_frames() -> tuple[np.ndarray, list[FrameFaces]]:
    mesh = _mesh_filling((0.1, 0.1, 0.3, 0.4))
    frames = [
        frame_faces(
            [[0.1, 0.1, 0.3, 0.4], [0.5, 0.5, 1.2, 0.9]],  # second face cut by the right edge
            [0.9, 0.7],
            np.stack([mesh, np.full((LANDMARK_COUNT, 3), np.nan)]),
        ),
        FrameFaces.empty(),
        frame_faces([[0.0, 0.0, 0.5, 0.5]], [0.8]),
        FrameFaces.empty(),
    ]
    return np.array([0.0, 0.5, 1.0, 1.5]), frames


def test_aggregate_arrays_have_the_known_values():
    times, frames = _four_frames()
    result = face_landmarks(times, frames)
    assert result.status == "ok" and result.reason == ""
    np.testing.assert_array_equal(result.face_count, [2, 0, 1, 0])
    np.testing.assert_array_equal(result.box_frame, [0, 0, 2])
    np.testing.assert_allclose(result.scores, [0.9, 0.7, 0.8])
    np.testing.assert_allclose(result.boxes[1], [0.5, 0.5, 1.0, 0.9])  # clipped
    np.testing.assert_array_equal(result.landmarks[0], frames[0].landmarks[0])
    assert np.isnan(result.landmarks[1]).all() and np.isnan(result.landmarks[2]).all()
    # frame 0: 0.2 x 0.3 = 0.06 plus 0.5 x 0.4 = 0.2, disjoint; frame 2: 0.25
    np.testing.assert_allclose(result.face_area_ratio, [0.26, 0.0, 0.25, 0.0], atol=1e-6)
    np.testing.assert_allclose(result.largest_face_ratio, [0.2, 0.0, 0.25, 0.0], atol=1e-6)
    assert result.frames_with_face_ratio == 0.5
    assert result.mean_face_count == 0.75
    assert result.max_face_count == 2
    assert result.mean_face_area_ratio == pytest.approx(0.51 / 4)


def test_artifact_arrays_are_plain_numeric_and_load_without_pickle():
    times, frames = _four_frames()
    arrays = face_landmarks(times, frames).as_arrays()
    expected = {
        "frame_times_s": (np.float64, (4,)),
        "face_count": (np.int32, (4,)),
        "boxes": (np.float32, (3, 4)),
        "box_frame": (np.int32, (3,)),
        "scores": (np.float32, (3,)),
        "landmarks": (np.float32, (3, LANDMARK_COUNT, 3)),
        "face_area_ratio": (np.float32, (4,)),
        "largest_face_ratio": (np.float32, (4,)),
        "frames_with_face_ratio": (np.float64, ()),
        "mean_face_count": (np.float64, ()),
        "max_face_count": (np.int32, ()),
        "mean_face_area_ratio": (np.float64, ()),
    }
    assert {name: (a.dtype, a.shape) for name, a in arrays.items()} == expected
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as loaded:
        np.testing.assert_array_equal(loaded["box_frame"], [0, 0, 2])


def test_no_face_is_empty_not_an_error():
    result = face_landmarks(np.array([0.0, 1.0, 2.0]), [FrameFaces.empty()] * 3)
    assert result.status == "empty"
    assert "no face" in result.reason
    np.testing.assert_array_equal(result.face_count, [0, 0, 0])
    assert result.boxes.shape == (0, 4) and result.boxes.dtype == np.float32
    assert result.landmarks.shape == (0, LANDMARK_COUNT, 3)
    assert result.box_frame.dtype == np.int32 and result.box_frame.size == 0
    assert result.frames_with_face_ratio == 0.0 and result.mean_face_count == 0.0
    np.testing.assert_array_equal(result.face_area_ratio, [0.0, 0.0, 0.0])


def test_no_frames_is_empty_with_nan_scalars():
    result = face_landmarks(np.zeros(0), [])
    assert result.status == "empty" and result.reason == "no frame was sampled"
    assert np.isnan(result.frames_with_face_ratio) and np.isnan(result.mean_face_count)
    assert result.max_face_count == 0
    assert all(not a.dtype.hasobject for a in result.as_arrays().values())


def test_times_and_results_must_pair_up():
    with pytest.raises(DpError) as info:
        face_landmarks(np.array([0.0, 1.0]), [FrameFaces.empty()])
    assert info.value.code == ErrorCode.INTERNAL
