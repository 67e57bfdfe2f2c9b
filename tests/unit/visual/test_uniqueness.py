"""Unit tests of dp_features.visual.uniqueness: synthetic embeddings whose repeats are known."""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.uniqueness import visual_uniqueness

pytestmark = pytest.mark.unit

DIM = 16


def _basis(k: int) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[k] = 1.0
    return v


A, B, C = _basis(0), _basis(1), _basis(2)


def _frames(*parts: tuple[np.ndarray, int]) -> np.ndarray:
    return np.concatenate([np.repeat(v[None, :], n, axis=0) for v, n in parts])


def test_abab_repeats_half_its_shots_and_frames():
    # Shots of 4 s at 1 frame/s: A B A B.
    times = np.arange(16.0)
    frames = _frames((A, 4), (B, 4), (A, 4), (B, 4))
    bounds = np.array([[0.0, 4.0], [4.0, 8.0], [8.0, 12.0], [12.0, 16.0]])
    result = visual_uniqueness(times, frames, bounds, min_gap_s=2.0)
    assert result.status == "ok"
    # Frames 8..15 each repeat a frame of an earlier shot at least 2 s before: 8 / 16.
    assert result.near_duplicate_ratio == pytest.approx(0.5)
    dup = result.frame_duplicate_of
    assert np.all(dup[:8] == -1)
    assert np.all((dup[8:12] >= 0) & (dup[8:12] < 4))
    assert np.all((dup[12:] >= 4) & (dup[12:] < 8))
    assert result.repeated_shot_ratio == pytest.approx(0.5)
    assert list(result.shot_repeat_of) == [-1, -1, 0, 1]
    # Pair distances: AB 1, AA 0, AB 1, BA 1, BB 0, AB 1 -> mean 4/6.
    assert result.visual_diversity == pytest.approx(4.0 / 6.0)
    np.testing.assert_allclose(result.shot_similarity, [[1, 0, 1, 0], [0, 1, 0, 1]] * 2)
    assert list(result.signals_used) == ["clip_embeddings", "shot_bounds"]
    assert result.shot_source == "shot_bounds"


def test_gap_rule_by_hand():
    # A at 0..3 s, B at 4..5 s, A again at 6..9 s. With min_gap_s = 7, the frame at 6 s
    # would need a match at <= -1 s (none); 7 s matches 0 s, 8 s matches 0..1 s, 9 s
    # matches 0..2 s: 3 near-duplicates out of 10 frames.
    times = np.arange(10.0)
    frames = _frames((A, 4), (B, 2), (A, 4))
    bounds = np.array([[0.0, 4.0], [4.0, 6.0], [6.0, 10.0]])
    result = visual_uniqueness(times, frames, bounds, min_gap_s=7.0)
    assert result.near_duplicate_ratio == pytest.approx(0.3)
    assert list(result.frame_duplicate_of) == [-1] * 7 + [0, 0, 0]
    relaxed = visual_uniqueness(times, frames, bounds, min_gap_s=2.0)
    assert relaxed.near_duplicate_ratio == pytest.approx(0.4)
    assert relaxed.repeated_shot_ratio == pytest.approx(1.0 / 3.0)


def test_static_single_shot_is_not_a_repeat_of_itself():
    rng = np.random.default_rng(0)
    times = np.arange(30.0)
    frames = A[None, :] + 0.01 * rng.normal(size=(30, DIM))
    result = visual_uniqueness(times, frames, np.array([[0.0, 30.0]]), min_gap_s=2.0)
    assert result.near_duplicate_ratio == 0.0
    assert result.repeated_shot_ratio == 0.0
    assert result.visual_diversity == 0.0
    assert np.all(result.frame_duplicate_of == -1)


def test_without_shot_bounds_falls_back_to_one_shot_and_says_so():
    times = np.arange(20.0)
    static = visual_uniqueness(times, _frames((A, 20)), None)
    assert static.shot_source == "single_shot_fallback"
    assert list(static.signals_used) == ["clip_embeddings"]
    np.testing.assert_allclose(static.shot_bounds_s, [[0.0, 19.0]])
    assert static.near_duplicate_ratio == 0.0 and static.visual_diversity == 0.0
    # A cut missed upstream (A B A in one "shot") is still seen as the picture coming back.
    missed = visual_uniqueness(times, _frames((A, 8), (B, 4), (A, 8)), np.zeros((0, 2)))
    assert missed.shot_source == "single_shot_fallback"
    assert missed.near_duplicate_ratio == pytest.approx(8.0 / 20.0)


def test_orthogonal_shots_have_diversity_one():
    times = np.arange(9.0)
    frames = _frames((A, 3), (B, 3), (C, 3))
    bounds = np.array([[0.0, 3.0], [3.0, 6.0], [6.0, 9.0]])
    result = visual_uniqueness(times, frames, bounds)
    assert result.visual_diversity == pytest.approx(1.0)
    assert result.repeated_shot_ratio == 0.0 and result.near_duplicate_ratio == 0.0


def test_shot_without_a_frame_is_not_judged():
    times = np.arange(8.0)
    frames = _frames((A, 4), (B, 4))
    bounds = np.array([[0.0, 4.0], [4.0, 4.3], [4.3, 8.0]])  # middle shot: no frame
    result = visual_uniqueness(times, frames, bounds)
    # Frame 4 s lies in the middle shot [4.0, 4.3): counts are 4, 1, 3.
    assert list(result.shot_frame_counts) == [4, 1, 3]
    bounds = np.array([[0.0, 3.5], [3.5, 3.8], [3.8, 8.0]])
    result = visual_uniqueness(times, frames, bounds)
    assert list(result.shot_frame_counts) == [4, 0, 4]
    assert np.all(np.isnan(result.shot_similarity[1])) and result.shot_repeat_of[1] == -1
    assert result.repeated_shot_ratio == 0.0  # of the 2 judged shots
    assert result.visual_diversity == pytest.approx(1.0)


def test_frame_indices_follow_the_callers_order():
    times = np.arange(16.0)
    frames = _frames((A, 4), (B, 4), (A, 4), (B, 4))
    bounds = np.array([[0.0, 4.0], [4.0, 8.0], [8.0, 12.0], [12.0, 16.0]])
    perm = np.random.default_rng(1).permutation(16)
    result = visual_uniqueness(times[perm], frames[perm], bounds)
    dup = result.frame_duplicate_of
    assert np.sum(dup >= 0) == 8
    for i in np.nonzero(dup >= 0)[0]:
        j = dup[i]
        assert np.array_equal(frames[perm][i], frames[perm][j])
        assert times[perm][i] - times[perm][j] >= 2.0


def test_empty_and_bad_inputs():
    result = visual_uniqueness(np.zeros(0), np.zeros((0, DIM)), np.array([[0.0, 5.0]]))
    assert result.status == "empty" and result.reason
    assert np.isnan(result.near_duplicate_ratio) and result.signals_used.shape == (0,)
    for array in result.as_arrays().values():
        assert array.dtype.kind in "fiuU"
    with pytest.raises(DpError) as err:
        visual_uniqueness(np.arange(3.0), np.full((3, DIM), np.inf), None)
    assert err.value.code == ErrorCode.MODEL_BAD_OUTPUT
    with pytest.raises(DpError) as err:
        visual_uniqueness(np.arange(3.0), np.ones((2, DIM)), None)
    assert err.value.code == ErrorCode.MODEL_BAD_OUTPUT
    with pytest.raises(DpError) as err:
        visual_uniqueness(np.arange(3.0), np.ones((3, DIM)), None, min_gap_s=-1.0)
    assert err.value.code == ErrorCode.CONFIG_INVALID
