"""Unit tests of dp_features.visual.story_structure: synthetic signals with known shape."""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.story_structure import ARCS, story_structure

pytestmark = pytest.mark.unit


def _loudness(duration_s: float, lufs_at) -> tuple[np.ndarray, np.ndarray]:
    """Short-term loudness every 100 ms (window centres from 1.5 s, as loudness.py writes)."""
    times = np.arange(1.5, duration_s - 1.5 + 1e-9, 0.1)
    return times, np.asarray(lufs_at(times), np.float32)


def test_climax_of_a_peak_at_70_percent():
    times = np.arange(100.0)
    motion = 100.0 + 400.0 * np.maximum(0.0, 1.0 - np.abs(times - 70.0) / 30.0)
    result = story_structure(100.0, motion_times_s=times, motion_energy=motion)
    assert result.status == "ok"
    assert list(result.signals_used) == ["motion"]
    assert result.climax_position == pytest.approx(0.7, abs=0.01)  # one 1 s step of 100 s
    assert result.climax_time_s == pytest.approx(70.0, abs=1.0)
    assert result.energy_arc == "rising"  # thirds 0-33 low, 33-66 higher, 66-100 highest


def test_rising_loudness_ramp_is_rising():
    t, lufs = _loudness(60.0, lambda t: -40.0 + 30.0 * t / 60.0)
    result = story_structure(60.0, loudness_times_s=t, short_term_lufs=lufs)
    assert result.energy_arc == "rising"
    assert result.climax_position > 0.9
    assert result.hook_strength < 0.2  # a quiet opening in a video that gets louder
    assert result.energy_times_s.shape == (60,)
    np.testing.assert_allclose(result.energy_times_s[:2], [0.5, 1.5])


@pytest.mark.parametrize(
    ("shape", "arc"),
    [
        (lambda t: 1.0 - t / 90.0, "falling"),
        (lambda t: np.exp(-(((t - 45.0) / 10.0) ** 2)), "peak_middle"),
        (lambda t: 1.0 - np.exp(-(((t - 45.0) / 10.0) ** 2)), "valley"),
    ],
)
def test_other_arcs(shape, arc):
    times = np.arange(90.0)
    result = story_structure(90.0, motion_times_s=times, motion_energy=300.0 * shape(times))
    assert result.energy_arc == arc
    assert arc in ARCS


def test_step_change_at_40_s_is_a_segment_boundary():
    rng = np.random.default_rng(0)
    times = np.arange(0.0, 100.0, 0.5)
    motion = np.where(times < 40.0, 50.0, 300.0) + rng.normal(0.0, 15.0, len(times))
    t, lufs = _loudness(100.0, lambda t: np.where(t < 40.0, -30.0, -15.0))
    lufs = lufs + rng.normal(0.0, 1.0, len(lufs)).astype(np.float32)
    result = story_structure(
        100.0,
        motion_times_s=times,
        motion_energy=motion,
        loudness_times_s=t,
        short_term_lufs=lufs,
        speech_segments_s=np.array([[41.0, 60.0], [61.0, 99.0]]),  # speech a second late
    )
    assert list(result.signals_used) == ["motion", "loudness", "speech"]
    bounds = result.segment_bounds_s
    assert bounds.shape == (2, 2)
    assert bounds[0, 0] == 0.0 and bounds[-1, 1] == 100.0
    assert bounds[0, 1] == pytest.approx(40.0, abs=2.0)
    assert bounds[1, 0] == bounds[0, 1]
    assert result.segment_energy[1] > result.segment_energy[0] + 0.5
    assert result.energy_arc == "rising"


def test_a_burst_in_the_middle_is_a_segment_of_its_own():
    rng = np.random.default_rng(2)
    times = np.arange(90.0)
    motion = np.where((times >= 40.0) & (times < 50.0), 400.0, 50.0) + rng.normal(0, 10, 90)
    result = story_structure(90.0, motion_times_s=times, motion_energy=motion)
    np.testing.assert_allclose(result.segment_bounds_s, [[0, 40], [40, 50], [50, 90]], atol=1)
    assert result.energy_arc == "peak_middle"
    assert 40.0 <= result.climax_time_s <= 50.0


def test_flat_video_is_one_flat_segment():
    rng = np.random.default_rng(1)
    t, lufs = _loudness(80.0, lambda t: -20.0 + rng.normal(0.0, 0.3, len(t)))
    times = np.arange(80.0)
    motion = 40.0 + rng.normal(0.0, 2.0, 80)
    result = story_structure(
        80.0, motion_times_s=times, motion_energy=motion, loudness_times_s=t, short_term_lufs=lufs
    )
    assert result.energy_arc == "flat"
    np.testing.assert_allclose(result.segment_bounds_s, [[0.0, 80.0]])
    assert result.hook_strength == pytest.approx(0.5, abs=0.05)


def test_strong_hook():
    times = np.arange(30.0)
    motion = np.where(times < 3.0, 500.0, 50.0)
    result = story_structure(30.0, motion_times_s=times, motion_energy=motion)
    assert result.hook_strength > 0.8
    assert result.climax_time_s < 3.0


def test_missing_and_empty_signals_are_not_listed():
    times = np.arange(20.0)
    result = story_structure(
        20.0,
        cut_times_s=np.zeros(0),
        motion_times_s=times,
        motion_energy=times * 10.0,
        speech_segments_s=np.zeros((0, 2)),
        text_spans_s=None,
    )
    assert list(result.signals_used) == ["motion"]
    assert result.signal_curves.shape == (1, 20)


def test_every_signal_is_used_and_counted_per_cell():
    t, lufs = _loudness(30.0, lambda t: -20.0 + 0.0 * t)
    result = story_structure(
        30.0,
        cut_times_s=np.arange(15.0, 30.0, 0.5),  # cuts every 0.5 s in the second half
        motion_times_s=np.arange(30.0),
        motion_energy=np.full(30, 100.0),
        loudness_times_s=t,
        short_term_lufs=lufs,
        speech_segments_s=np.array([[0.0, 10.0]]),
        text_spans_s=np.array([[20.0, 20.0]]),  # read on one frame only
    )
    names = list(result.signals_used)
    assert names == ["cut_rate", "motion", "loudness", "speech", "text"]
    curves = dict(zip(names, result.signal_curves, strict=True))
    assert curves["cut_rate"][25] > curves["cut_rate"][5]
    assert curves["speech"][5] > curves["speech"][15]
    # The one-frame text line counts for the cell [20, 21) only.
    assert curves["text"][20] > curves["text"][19] and curves["text"][20] > curves["text"][21]
    # Constant signals sit at 0.5 and shape nothing.
    np.testing.assert_allclose(curves["motion"], 0.5)
    np.testing.assert_allclose(curves["loudness"], 0.5)
    np.testing.assert_allclose(result.energy_raw, result.signal_curves.mean(axis=0), atol=1e-6)


def test_silence_reads_as_quiet_not_as_missing():
    t, lufs = _loudness(40.0, lambda t: np.where(t < 20.0, -np.inf, -18.0))
    result = story_structure(40.0, loudness_times_s=t, short_term_lufs=lufs)
    assert list(result.signals_used) == ["loudness"]
    assert np.all(np.isfinite(result.energy_curve))
    assert result.energy_arc == "rising"
    assert len(result.segment_bounds_s) == 2
    assert result.segment_bounds_s[0, 1] == pytest.approx(20.0, abs=2.0)


def test_very_short_videos():
    one = story_structure(0.5, motion_times_s=np.array([0.1]), motion_energy=np.array([5.0]))
    assert one.status == "ok" and one.energy_curve.shape == (1,)
    np.testing.assert_allclose(one.segment_bounds_s, [[0.0, 0.5]])
    assert np.isnan(one.hook_strength)  # nothing after the hook to compare with
    assert one.energy_arc == "flat"
    assert one.climax_position == pytest.approx(0.5)  # centre of the one cell
    two = story_structure(1.5, speech_segments_s=np.array([[0.0, 1.0]]))
    assert two.energy_curve.shape == (2,)
    np.testing.assert_allclose(two.energy_times_s, [0.5, 1.25])
    np.testing.assert_allclose(two.segment_bounds_s, [[0.0, 1.5]])


def test_no_signal_or_no_duration_is_empty():
    none = story_structure(30.0)
    assert none.status == "empty" and "no input signal" in none.reason
    assert none.signals_used.shape == (0,) and none.segment_bounds_s.shape == (0, 2)
    assert np.isnan(none.hook_strength)
    for array in none.as_arrays().values():
        assert array.dtype.kind in "fiuU"
    zero = story_structure(0.0, motion_times_s=np.zeros(1), motion_energy=np.ones(1))
    assert zero.status == "empty" and zero.reason


def test_arrays_are_plain_numpy():
    result = story_structure(10.0, speech_segments_s=np.array([[2.0, 5.0]]))
    arrays = result.as_arrays()
    for name, array in arrays.items():
        assert array.dtype.kind in "fiuU", name
    assert str(arrays["energy_arc"]) in ARCS


def test_bad_inputs_are_reported():
    with pytest.raises(DpError) as err:
        story_structure(10.0, motion_times_s=np.arange(3.0), motion_energy=np.ones(4))
    assert err.value.code == ErrorCode.DEPENDENCY_ERROR
    with pytest.raises(DpError) as err:
        story_structure(10.0, motion_times_s=np.arange(3.0))
    assert err.value.code == ErrorCode.CONFIG_INVALID
    with pytest.raises(DpError) as err:
        story_structure(-1.0)
    assert err.value.code == ErrorCode.INPUT_CORRUPT
    with pytest.raises(DpError) as err:
        story_structure(10.0, step_s=0.0)
    assert err.value.code == ErrorCode.CONFIG_INVALID
    with pytest.raises(DpError) as err:
        story_structure(10.0, speech_segments_s=np.ones((2, 3)))
    assert err.value.code == ErrorCode.DEPENDENCY_ERROR
