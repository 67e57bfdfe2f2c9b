"""Unit tests of dp_features.visual.optical_flow: shapes, dtypes, edge cases, streaming."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.optical_flow import (
    N_DIRECTIONS,
    FlowStats,
    OpticalFlowStream,
    optical_flow_stats,
)

pytestmark = pytest.mark.unit


def _panning(n: int, px_per_frame: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    canvas = cv2.GaussianBlur(rng.normal(0, 1, (90, 260, 3)).astype(np.float32), (0, 0), 2)
    canvas = np.clip(canvas / canvas.std() * 40 + 128, 0, 255)
    frames = []
    for i in range(n):
        m = np.float32([[1, 0, -i * px_per_frame], [0, 1, 0]])
        frames.append(cv2.warpAffine(canvas, m, (160, 90)))
    return np.clip(np.stack(frames) + 0.5, 0, 255).astype(np.uint8)


def _check_shapes(stats: FlowStats, pairs: int) -> None:
    assert stats.pair_times_s.dtype == np.float64 and stats.pair_times_s.shape == (pairs,)
    assert stats.direction_hist.shape == (pairs, N_DIRECTIONS)
    for name, value in stats.arrays().items():
        assert value.shape[0] == pairs, name
        if name != "pair_times_s":
            assert value.dtype == np.float32, name


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_frames_give_no_pairs(n):
    stats = optical_flow_stats(
        _panning(n) if n else np.zeros((0, 90, 160, 3), np.uint8), np.arange(n) / 25.0
    )
    _check_shapes(stats, 0)


def test_static_frames_have_no_motion():
    frames = np.repeat(_panning(1), 5, axis=0)
    stats = optical_flow_stats(frames, np.arange(5) / 25.0, scale=4.0)
    _check_shapes(stats, 4)
    assert np.allclose(stats.magnitude_mean_px_s, 0, atol=0.5)
    assert np.allclose(stats.global_dx_px_s, 0, atol=0.5)
    assert np.allclose(
        stats.direction_hist.sum(axis=1)[stats.magnitude_mean_px_s > 0], 1, atol=1e-5
    )


def test_pair_times_are_midpoints():
    times = np.array([0.0, 0.04, 0.1, 0.2])
    stats = optical_flow_stats(_panning(4), times)
    assert stats.pair_times_s.tolist() == pytest.approx([0.02, 0.07, 0.15])


def test_histogram_is_normalised():
    stats = optical_flow_stats(_panning(6, 1.5), np.arange(6) / 25.0)
    assert np.allclose(stats.direction_hist.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(stats.direction_hist >= 0)


def test_streaming_matches_one_call():
    frames = _panning(12, 0.8)
    times = np.arange(12) / 25.0
    whole = optical_flow_stats(frames, times, scale=2.0)
    stream = OpticalFlowStream(scale=2.0)
    parts = [stream.update(frames[i : i + 5], times[i : i + 5]) for i in range(0, 12, 5)]
    streamed = FlowStats.concat(parts)
    for name in whole.arrays():
        assert np.allclose(getattr(streamed, name), getattr(whole, name), atol=1e-4), name


def test_concat_of_nothing_is_empty():
    _check_shapes(FlowStats.concat([]), 0)


def test_bad_inputs():
    with pytest.raises(DpError) as err:
        OpticalFlowStream(scale=0)
    assert err.value.code == ErrorCode.CONFIG_INVALID
    with pytest.raises(DpError) as err:
        optical_flow_stats(np.zeros((3, 9, 16), np.uint8), np.arange(3.0))
    assert err.value.code == ErrorCode.INPUT_UNSUPPORTED
    with pytest.raises(DpError) as err:
        optical_flow_stats(_panning(3), np.array([0.0, 0.0, 0.1]))
    assert err.value.code == ErrorCode.INPUT_CORRUPT


def test_frames_too_small_for_flow():
    with pytest.raises(DpError) as err:
        optical_flow_stats(np.zeros((3, 8, 10, 3), np.uint8), np.arange(3) / 25.0)
    assert err.value.code == ErrorCode.INPUT_UNSUPPORTED


def _one_field_stats(flow: np.ndarray, px_s: float) -> list[np.ndarray]:
    """The module's documented statistics of one flow field, written out plainly."""
    fx, fy = flow[..., 0].ravel() * px_s, flow[..., 1].ravel() * px_s
    mag = np.hypot(fx, fy)
    bins = np.round(np.arctan2(-fy, fx) / (2 * np.pi / N_DIRECTIONS)).astype(int) % N_DIRECTIONS
    hist = np.bincount(bins, weights=mag, minlength=N_DIRECTIONS)
    hist = hist / hist.sum() if hist.sum() > 0 else hist
    gx, gy = np.median(fx), np.median(fy)
    residual = np.hypot(fx - gx, fy - gy).mean()
    return [mag.mean(), np.median(mag), np.percentile(mag, 90), hist, gx, gy, residual]


def test_statistics_in_blocks_match_one_field_at_a_time():
    from dp_features.visual.optical_flow import STATS_BLOCK_PAIRS

    rng = np.random.default_rng(5)
    n = 2 * STATS_BLOCK_PAIRS + 5  # blocks of unequal length
    frames = np.clip(rng.normal(128, 50, (n, 90, 160, 3)), 0, 255).astype(np.uint8)
    frames[7] = frames[6]  # one pair without motion: an all-zero histogram
    times = np.cumsum(rng.uniform(0.02, 0.06, n))  # variable frame rate
    stats = OpticalFlowStream(scale=3.0).update(frames, times)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    names = [name for name in stats.arrays() if name != "pair_times_s"]
    for i in range(1, n):
        flow = dis.calc(grey[i - 1], grey[i], None)
        expected = _one_field_stats(flow, 3.0 / (times[i] - times[i - 1]))
        for name, value in zip(names, expected, strict=True):
            np.testing.assert_allclose(getattr(stats, name)[i - 1], value, rtol=1e-6, atol=1e-6)
    assert not stats.direction_hist[6].any()
