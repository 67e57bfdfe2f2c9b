"""Unit tests of dp_features.visual.pacing: known cut lists and motion series."""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError
from dp_features.visual.cut_detection import shot_bounds_from_cuts
from dp_features.visual.pacing import motion_curve, shot_length_stats, video_pacing

pytestmark = pytest.mark.unit


def test_cuts_per_minute_and_shot_lengths():
    cuts = np.array([10.0, 25.0, 30.0, 50.0])
    bounds = shot_bounds_from_cuts(cuts, 60.0)
    p = video_pacing(cuts, bounds, 60.0, np.zeros(0), np.zeros(0))
    lengths = np.array([10.0, 15.0, 5.0, 20.0, 10.0])
    assert p.cuts_per_minute == pytest.approx(4.0)
    assert p.shot_count == 5
    assert p.shot_length_mean_s == pytest.approx(lengths.mean())
    assert p.shot_length_median_s == pytest.approx(np.median(lengths))
    assert p.shot_length_std_s == pytest.approx(lengths.std())
    assert p.shot_length_p10_s == pytest.approx(np.percentile(lengths, 10))
    assert p.shot_length_p90_s == pytest.approx(np.percentile(lengths, 90))
    assert p.shot_length_cv == pytest.approx(lengths.std() / lengths.mean())
    assert p.fast_shot_ratio == 0.0
    # Cuts at 10, 25 in the first half, 30, 50 in the second: no change of pace.
    assert p.pace_change_cpm == pytest.approx(0.0)


def test_single_shot_no_motion():
    p = video_pacing(np.zeros(0), shot_bounds_from_cuts(np.zeros(0), 8.0), 8.0, [], [])
    assert p.cuts_per_minute == 0 and p.shot_count == 1
    assert p.shot_length_mean_s == 8.0 and p.shot_length_std_s == 0.0
    assert p.motion_energy.shape == (8,) and np.all(p.motion_energy == 0)
    assert np.isnan(p.motion_cut_correlation)


def test_zero_duration():
    p = video_pacing(np.zeros(0), np.zeros((0, 2)), 0.0, [], [])
    assert p.cuts_per_minute == 0 and p.shot_count == 0
    assert np.isnan(p.shot_length_mean_s) and p.motion_energy.shape == (0,)


def test_speeding_up_edit_has_positive_pace_change():
    cuts = np.array([20.0, 35.0, 40.0, 45.0, 50.0, 55.0])
    p = video_pacing(cuts, shot_bounds_from_cuts(cuts, 60.0), 60.0, [], [])
    assert p.pace_change_cpm == pytest.approx((5 - 1) / 0.5)


def test_motion_curve_means_gaps_and_cut_guard():
    t = np.array([0.2, 0.7, 2.5, 2.9, 3.05])
    e = np.array([1.0, 3.0, 10.0, 20.0, 1000.0])
    grid, curve = motion_curve(t, e, 4.0, 1.0, exclude_times_s=np.array([3.0]), guard_s=0.1)
    assert grid.tolist() == [0.0, 1.0, 2.0, 3.0]
    # cell 0: mean(1, 3); cell 1: empty -> interpolated; cell 2: mean(10, 20); cell 3: the
    # only sample is 0.05 s from a cut, so it is dropped and the edge takes its neighbour.
    assert curve.tolist() == pytest.approx([2.0, 8.5, 15.0, 15.0])
    assert curve.dtype == np.float32


def test_motion_curve_rejects_bad_grid():
    with pytest.raises(DpError):
        motion_curve(np.zeros(1), np.zeros(1), 1.0, grid_s=0.0)


def test_arrays_are_plain_numpy():
    cuts = np.array([2.0])
    p = video_pacing(cuts, shot_bounds_from_cuts(cuts, 4.0), 4.0, [0.5, 2.5], [1.0, 2.0])
    arrays = p.arrays()
    assert arrays["motion_energy"].shape == (4,)
    assert arrays["cuts_per_minute"].dtype == np.float64
    assert arrays["shot_count"].dtype == np.int64


def test_shot_length_stats_empty():
    assert np.isnan(shot_length_stats(np.zeros((0, 2)))["median"])
