"""Tempo and beats against known truth: synthetic click tracks and drum patterns at 16 kHz.

Truth is the tempo the signal was built with and the times its clicks / beats were placed
at. A tempo within 2 % is right (an octave error - half or double - fails); a beat is
matched when a detected beat lies within 50 ms of it, and both most true beats must be
found (recall) and most detected beats must be true (precision): a tracker running at
double tempo would find every beat but fail precision.
"""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.audio.tempo import estimate_tempo
from tests.fixtures.audio_synth import beat_match, click_track, drum_pattern

pytestmark = pytest.mark.accuracy

RATE = 16000
TEMPO_TOLERANCE = 0.02
BEAT_TOLERANCE_S = 0.050
MIN_MATCHED = 0.9  # recall and precision; the tracker may drop a weak first or last beat


def _assert_tempo_and_beats(result, bpm: float, truth_beats: np.ndarray) -> None:
    assert result.tempo_bpm == pytest.approx(bpm, rel=TEMPO_TOLERANCE)
    recall, precision = beat_match(result.beat_times_s, truth_beats, BEAT_TOLERANCE_S)
    assert recall >= MIN_MATCHED, f"found {recall:.0%} of the true beats"
    assert precision >= MIN_MATCHED, f"{precision:.0%} of the detected beats are true"


@pytest.mark.parametrize("bpm", [70, 90, 100, 120, 128, 140, 160, 180])
def test_click_track(bpm):
    y, clicks = click_track(bpm, seconds=20.0, sample_rate=RATE)
    result = estimate_tempo(y, RATE)
    _assert_tempo_and_beats(result, bpm, clicks)
    assert result.beat_confidence >= 0.8  # a metronome is as clear a pulse as there is


@pytest.mark.parametrize(("bpm", "offset_s"), [(72, 0.37), (110, 0.05), (128, 0.21), (172, 0.5)])
def test_click_track_with_accented_downbeats_and_noise(bpm, offset_s):
    # Every 4th click twice as loud (the autocorrelation then also peaks at the bar, 4x the
    # beat period), white noise at -35 dBFS RMS, and a start that is not on a frame.
    y, clicks = click_track(
        bpm, 20.0, RATE, offset_s=offset_s, accent_every=4, noise_dbfs=-35.0, seed=bpm
    )
    _assert_tempo_and_beats(estimate_tempo(y, RATE), bpm, clicks)


@pytest.mark.parametrize("bpm", [70, 85, 100, 120, 140, 160, 180])
def test_drum_pattern_no_octave_error(bpm):
    # Kick/snare on the beat with hi-hats on every eighth note: the off-beat hats make the
    # double tempo a strong autocorrelation candidate at slow tempi, and the kick-snare
    # alternation makes half tempo one at fast tempi.
    y, beats = drum_pattern(bpm, 20.0, RATE, seed=bpm)
    _assert_tempo_and_beats(estimate_tempo(y, RATE), bpm, beats)


def test_times_include_the_start_offset():
    y, clicks = click_track(120, 10.0, RATE)
    shifted = estimate_tempo(y, RATE, start_time_s=12.5)
    recall, precision = beat_match(shifted.beat_times_s, clicks + 12.5, BEAT_TOLERANCE_S)
    assert min(recall, precision) >= MIN_MATCHED
    assert shifted.onset_times_s[0] == pytest.approx(12.5)


def test_silence_has_no_beats():
    result = estimate_tempo(np.zeros(10 * RATE, dtype=np.float32), RATE)
    assert result.tempo_bpm == 0.0
    assert result.beat_times_s.size == 0
    assert result.beat_confidence == 0.0
    assert not np.isnan(result.onset_strength).any()


def test_noise_has_no_clear_pulse():
    y = (0.1 * np.random.default_rng(0).standard_normal(20 * RATE)).astype(np.float32)
    assert estimate_tempo(y, RATE).beat_confidence < 0.3
