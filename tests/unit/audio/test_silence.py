"""Silent gaps on synthetic audio whose gaps, levels and lead-in are known by construction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.silence import SILENCE_FEATURES, WindowLevels, silence, silence_of_chunks

pytestmark = pytest.mark.unit

RATE = 16000


@dataclass
class Chunk:
    samples: np.ndarray
    start_s: float


def tone(seconds, amplitude=0.25, hz=440.0):
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def quiet(seconds, amplitude=0.0, seed=0):
    noise = np.random.default_rng(seed).standard_normal(round(seconds * RATE))
    return (amplitude * noise).astype(np.float32)


# 1.0 s silence, 2 s tone, 0.8 s silence, 1 s tone, 0.2 s silence (a pause: shorter than
# min_silence_s, not a gap), 1 s tone: gaps [0, 1] and [3, 3.8] of 6 s.
TALK = np.concatenate([quiet(1.0), tone(2.0), quiet(0.8), tone(1.0), quiet(0.2), tone(1.0)])


def chunks_of(samples, size, start_s=0.0):
    return [
        Chunk(samples[None, i : i + size], start_s + i / RATE) for i in range(0, len(samples), size)
    ]


def test_gaps_ratio_longest_and_lead_in_are_the_constructed_ones():
    result = silence_of_chunks(chunks_of(TALK, RATE * 60), RATE)
    assert result.duration_s == pytest.approx(6.0)
    assert result.silence_gaps_s == pytest.approx(np.array([[0.0, 1.0], [3.0, 3.8]]))
    assert result.silence_ratio == pytest.approx(1.8 / 6.0)
    assert result.longest_silence_s == pytest.approx(1.0)
    assert result.lead_in_silence_s == pytest.approx(1.0)
    assert result.status == "ok"


def test_a_shorter_minimum_counts_the_pause_and_odd_chunks_change_nothing():
    one = silence_of_chunks(chunks_of(TALK, RATE * 60), RATE, min_silence_s=0.2)
    odd = silence_of_chunks(chunks_of(TALK, 7777), RATE, min_silence_s=0.2)
    assert one.silence_gaps_s == pytest.approx(np.array([[0.0, 1.0], [3.0, 3.8], [4.8, 5.0]]))
    np.testing.assert_allclose(odd.window_dbfs, one.window_dbfs, atol=1e-4)
    np.testing.assert_allclose(odd.silence_gaps_s, one.silence_gaps_s)


def test_levels_are_rms_dbfs_and_the_threshold_splits_quiet_from_silent():
    levels = WindowLevels(RATE)
    levels.add(np.concatenate([tone(1.0, amplitude=1.0), tone(1.0, amplitude=0.25)]), 0.0)
    _, dbfs, _ = levels.levels()
    assert dbfs[:20] == pytest.approx(-3.01, abs=0.01)  # a full-scale sine
    assert dbfs[20:] == pytest.approx(-3.01 + 20 * np.log10(0.25), abs=0.01)
    # white noise of RMS 10**(-60/20) is silence at -50 dBFS, noise at -40 dBFS is not
    hiss = np.concatenate([tone(1.0), quiet(1.0, 10 ** (-60 / 20)), quiet(1.0, 10 ** (-40 / 20))])
    result = silence_of_chunks([Chunk(hiss, 0.0)], RATE, threshold_dbfs=-50.0)
    assert result.silence_gaps_s == pytest.approx(np.array([[1.0, 2.0]]))


def test_times_follow_the_stream_start_and_a_short_last_window_ends_the_audio():
    audio = np.concatenate([tone(1.0), quiet(1.0), tone(0.03)])  # a last window of 30 ms
    result = silence_of_chunks(chunks_of(audio, 5000, start_s=2.5), RATE)
    assert result.window_times_s[0] == pytest.approx(2.5)
    assert result.window_dbfs[-1] > -20  # the short last window is heard
    assert result.silence_gaps_s == pytest.approx(np.array([[3.5, 4.5]]))
    assert result.duration_s == pytest.approx(2.03)
    muted_end = silence_of_chunks([Chunk(np.concatenate([tone(1.0), quiet(1.03)]), 0.0)], RATE)
    assert muted_end.silence_gaps_s == pytest.approx(np.array([[1.0, 2.03]]))
    assert result.lead_in_silence_s == 0.0


def test_all_silence_and_no_audio():
    muted = silence_of_chunks([Chunk(quiet(3.0), 0.0)], RATE)
    assert muted.silence_ratio == pytest.approx(1.0)
    assert muted.lead_in_silence_s == pytest.approx(3.0)
    nothing = silence(WindowLevels(RATE))
    assert nothing.status == "empty" and len(nothing.silence_gaps_s) == 0


def test_chunks_that_do_not_follow_each_other_are_refused():
    levels = WindowLevels(RATE)
    levels.add(tone(1.0), 0.0)
    with pytest.raises(DpError) as caught:
        levels.add(tone(1.0), 1.5)
    assert caught.value.code == ErrorCode.INPUT_CORRUPT


def test_feature_columns_from_the_artifact_arrays():
    row = SILENCE_FEATURES.aggregate(silence_of_chunks([Chunk(TALK, 0.0)], RATE).as_arrays())
    assert set(row) == set(SILENCE_FEATURES.columns)
    assert row["silence_detection_silence_ratio"] == pytest.approx(0.3)
    assert row["silence_detection_longest_silence_s"] == pytest.approx(1.0)
    assert row["silence_detection_gaps_per_minute"] == pytest.approx(2 * 60 / 6.0)
    assert row["silence_detection_lead_in_silence_s"] == pytest.approx(1.0)
