"""Unit tests of dp_features.visual.cut_detection: shapes, dtypes, edge cases, streaming."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.cut_detection import (
    CutDetection,
    CutDetector,
    detect_cuts,
    shot_bounds_from_cuts,
)

pytestmark = pytest.mark.unit

FPS = 25.0


def _texture(seed: int, h: int = 90, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 3)
    img = (img - img.mean()) / img.std() * 40 + rng.uniform(80, 170, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shots(*lengths: int) -> np.ndarray:
    """Static shots of the given lengths (frames), a different texture each."""
    return np.concatenate([np.repeat(_texture(i)[None], n, axis=0) for i, n in enumerate(lengths)])


def _times(n: int) -> np.ndarray:
    return np.arange(n) / FPS


def _assert_contract(result: CutDetection, duration: float) -> None:
    k = len(result.cut_times_s)
    assert result.cut_times_s.dtype == np.float64 and result.cut_times_s.shape == (k,)
    assert result.cut_kinds.dtype.kind == "U" and result.cut_kinds.shape == (k,)
    assert set(result.cut_kinds.tolist()) <= {"hard", "gradual"}
    assert result.cut_confidence.dtype == np.float32 and result.cut_confidence.shape == (k,)
    assert np.all((result.cut_confidence >= 0) & (result.cut_confidence <= 1))
    assert result.transition_span_s.dtype == np.float64
    assert result.transition_span_s.shape == (k, 2)
    spans = result.transition_span_s
    assert np.all(spans[:, 0] <= result.cut_times_s + 1e-9)
    assert np.all(result.cut_times_s <= spans[:, 1] + 1e-9)
    hard = result.cut_kinds == "hard"
    assert np.allclose(spans[hard, 0], spans[hard, 1])
    bounds = result.shot_bounds_s
    assert bounds.dtype == np.float64 and bounds.ndim == 2 and bounds.shape[1] == 2
    if duration > 0:
        assert bounds[0, 0] == 0.0 and bounds[-1, 1] == pytest.approx(duration)
        assert np.allclose(bounds[1:, 0], bounds[:-1, 1])  # shots tile the video
        assert len(bounds) == k + 1
        assert np.allclose(bounds[1:, 0], result.cut_times_s)
    for name, value in result.arrays().items():
        assert isinstance(value, np.ndarray) and value.dtype != object, name


def test_no_frames_gives_one_shot_over_the_duration():
    result = detect_cuts(np.zeros((0, 90, 160, 3), np.uint8), np.zeros(0), duration_s=3.0)
    _assert_contract(result, 3.0)
    assert len(result.cut_times_s) == 0
    assert result.shot_bounds_s.tolist() == [[0.0, 3.0]]


def test_no_frames_and_no_duration_gives_no_shots():
    result = CutDetector().finish()
    assert result.shot_bounds_s.shape == (0, 2)
    assert result.cut_times_s.shape == (0,)


def test_one_frame():
    result = detect_cuts(_texture(0)[None], np.array([0.0]), duration_s=0.04)
    _assert_contract(result, 0.04)
    assert len(result.cut_times_s) == 0


def test_static_shot_has_no_cut():
    frames = _shots(100)
    result = detect_cuts(frames, _times(100), duration_s=4.0)
    _assert_contract(result, 4.0)
    assert len(result.cut_times_s) == 0


def test_all_black_video_has_no_cut():
    frames = np.zeros((60, 90, 160, 3), np.uint8)
    result = detect_cuts(frames, _times(60), duration_s=2.4)
    _assert_contract(result, 2.4)
    assert len(result.cut_times_s) == 0


def test_hard_cut_between_two_static_shots():
    frames = _shots(50, 50)
    result = detect_cuts(frames, _times(100), duration_s=4.0)
    _assert_contract(result, 4.0)
    assert result.cut_kinds.tolist() == ["hard"]
    assert result.cut_times_s[0] == pytest.approx(50 / FPS)  # first frame of the new shot
    assert result.cut_confidence[0] > 0.5


def test_duration_defaults_to_last_frame_plus_one_interval():
    result = detect_cuts(_shots(30, 30), _times(60))
    assert result.duration_s == pytest.approx(60 / FPS)
    assert result.shot_bounds_s[-1, 1] == pytest.approx(60 / FPS)


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_streaming_in_chunks_matches_one_call(chunk):
    frames = _shots(40, 60, 45)
    times = _times(len(frames))
    whole = detect_cuts(frames, times, duration_s=6.0)
    detector = CutDetector()
    for i in range(0, len(frames), chunk):
        detector.update(frames[i : i + chunk], times[i : i + chunk])
    streamed = detector.finish(6.0)
    assert np.allclose(streamed.cut_times_s, whole.cut_times_s)
    assert streamed.cut_kinds.tolist() == whole.cut_kinds.tolist()
    assert len(whole.cut_times_s) == 2


def test_iterable_of_chunks():
    frames = _shots(40, 40)
    times = _times(80)
    chunks = ((frames[i : i + 25], times[i : i + 25]) for i in range(0, 80, 25))
    result = detect_cuts(chunks, duration_s=3.2)
    assert result.cut_times_s == pytest.approx([40 / FPS])


def test_memory_stays_bounded_on_a_long_video():
    frame = _texture(3)
    chunk = np.repeat(frame[None], 250, axis=0)
    detector = CutDetector()
    for i in range(12):  # two minutes at 25 fps
        detector.update(chunk, (np.arange(250) + 250 * i) / FPS)
        assert detector.buffered_frames <= 250 + 12 * FPS
    assert len(detector.finish().cut_times_s) == 0


def test_rejects_non_uint8_rgb():
    with pytest.raises(DpError) as err:
        detect_cuts(np.zeros((5, 90, 160), np.uint8), _times(5))
    assert err.value.code == ErrorCode.INPUT_UNSUPPORTED
    with pytest.raises(DpError):
        detect_cuts(np.zeros((5, 90, 160, 3), np.float32), _times(5))


def test_rejects_mismatched_or_backwards_times():
    frames = _shots(5)
    with pytest.raises(DpError) as err:
        detect_cuts(frames, _times(4))
    assert err.value.code == ErrorCode.INPUT_CORRUPT
    with pytest.raises(DpError) as err:
        detect_cuts(frames, _times(5)[::-1].copy())
    assert err.value.code == ErrorCode.INPUT_CORRUPT
    detector = CutDetector()
    detector.update(frames, _times(5) + 1.0)
    with pytest.raises(DpError):
        detector.update(frames, _times(5))


def test_times_are_required_for_an_array():
    with pytest.raises(DpError) as err:
        detect_cuts(_shots(5))
    assert err.value.code == ErrorCode.CONFIG_INVALID


def test_shot_bounds_tile_the_duration():
    bounds = shot_bounds_from_cuts(np.array([5.0, 2.0, -1.0, 12.0, 2.0]), 10.0)
    assert bounds.tolist() == [[0.0, 2.0], [2.0, 5.0], [5.0, 10.0]]
    assert shot_bounds_from_cuts(np.zeros(0), 4.0).tolist() == [[0.0, 4.0]]
    assert shot_bounds_from_cuts(np.array([1.0]), 0.0).shape == (0, 2)


@pytest.mark.parametrize("size", [(2, 2), (6, 8), (9, 16)])
def test_tiny_frames_do_not_break_it(size):
    h, w = size
    frames = np.concatenate([np.repeat(_texture(i, h, w)[None], 30, axis=0) for i in range(3)])
    result = detect_cuts(frames, _times(90), duration_s=3.6)
    _assert_contract(result, 3.6)
