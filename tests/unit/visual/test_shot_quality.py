"""Unit tests of dp_features.visual.shot_quality: shapes, dtypes, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.shot_quality import (
    FRAME_METRICS,
    FrameQuality,
    frame_quality,
    shot_quality,
)

pytestmark = pytest.mark.unit


def _frames(n: int, h: int = 36, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_shapes_and_dtypes():
    q = frame_quality(_frames(5))
    for name in FRAME_METRICS:
        values = getattr(q, name)
        assert values.shape == (5,) and values.dtype == np.float32, name
        assert np.all(np.isfinite(values)), name
    assert set(q.arrays()) == set(FRAME_METRICS)
    for name in ("brightness", "dark_clip_ratio", "bright_clip_ratio", "contrast"):
        assert np.all((getattr(q, name) >= 0) & (getattr(q, name) <= 1)), name


def test_no_frames():
    q = frame_quality(np.zeros((0, 36, 64, 3), np.uint8))
    assert all(getattr(q, name).shape == (0,) for name in FRAME_METRICS)


def test_frames_too_small_for_a_3x3_filter_give_nan():
    q = frame_quality(np.zeros((2, 2, 2, 3), np.uint8))
    assert np.all(np.isnan(q.sharpness))


def test_all_black_frame():
    q = frame_quality(np.zeros((1, 36, 64, 3), np.uint8))
    assert q.brightness[0] == 0 and q.contrast[0] == 0
    assert q.dark_clip_ratio[0] == 1 and q.bright_clip_ratio[0] == 0
    assert q.sharpness[0] == 0 and q.noise_sigma[0] == 0 and q.colourfulness[0] == 0


def test_all_white_frame():
    q = frame_quality(np.full((1, 36, 64, 3), 255, np.uint8))
    assert q.brightness[0] == pytest.approx(1.0)
    assert q.bright_clip_ratio[0] == 1 and q.dark_clip_ratio[0] == 0


def test_frames_are_independent_of_their_neighbours_in_the_stack():
    frames = _frames(4)
    together = frame_quality(frames)
    for i in range(4):
        alone = frame_quality(frames[i : i + 1])
        for name in FRAME_METRICS:
            assert getattr(alone, name)[0] == pytest.approx(getattr(together, name)[i], rel=1e-5)


def test_rejects_non_rgb_uint8():
    with pytest.raises(DpError) as err:
        frame_quality(np.zeros((2, 8, 8), np.uint8))
    assert err.value.code == ErrorCode.INPUT_UNSUPPORTED


def _quality(values: list[float]) -> FrameQuality:
    arr = np.asarray(values, np.float32)
    return FrameQuality(*(arr.copy() for _ in FRAME_METRICS))


def test_shot_aggregation_is_the_median_per_shot():
    times = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
    q = _quality([1, 2, 100, 10, 20, 30])
    bounds = np.array([[0.0, 1.2], [1.2, 2.5], [2.5, 3.0]])
    shots = shot_quality(times, q, bounds)
    assert shots.frame_count.tolist() == [3, 2, 1]  # the frame at the video end counts
    assert shots.metrics["sharpness"].tolist() == [2.0, 15.0, 30.0]
    arrays = shots.arrays()
    assert arrays["shot_sharpness"].dtype == np.float32
    assert arrays["shot_frame_count"].dtype == np.int32
    assert arrays["shot_bounds_s"].shape == (3, 2)


def test_shot_without_frames_is_nan():
    shots = shot_quality(np.array([0.1]), _quality([5]), np.array([[0.0, 1.0], [1.0, 2.0]]))
    assert shots.frame_count.tolist() == [1, 0]
    assert shots.metrics["contrast"][0] == 5 and np.isnan(shots.metrics["contrast"][1])


def test_no_shots():
    shots = shot_quality(np.array([0.1, 0.2]), _quality([1, 2]), np.zeros((0, 2)))
    assert shots.frame_count.shape == (0,)
    assert shots.metrics["noise_sigma"].shape == (0,)
