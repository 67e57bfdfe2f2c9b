"""What dp_features/audio/tempo.py promises beyond the headline tempo (issue 32, mutation
survivors): the onset envelope is librosa's full-band onset strength, every beat of a
click track is found to its last one, the shortest audio that may hold a pulse (0.6 s)
does, a "no pulse" result keeps its envelope and times, and beat confidence is the
autocorrelation at the beat period, clipped to 0..1, whatever the envelope."""

from types import SimpleNamespace

import librosa
import numpy as np
import pytest

from dp_features.audio.onset_strength import N_MELS, OnsetStrengthStream
from dp_features.audio.tempo import _pulse_clarity, estimate_tempo, tempo_from_onsets
from dp_features.audio.tempo_levels import MAX_BPM, choose_level, log_normal_prior
from tests.fixtures.audio_synth import click_track

pytestmark = pytest.mark.unit
RATE = 16000
FPS = 100.0  # 10 ms hops


def envelope_stream(onset: np.ndarray) -> SimpleNamespace:
    """A stand-in for OnsetStrengthStream whose combined envelope is exactly `onset` (all
    of it in the high band), to drive tempo_from_onsets with envelopes chosen here."""
    n_low = 10
    high = onset.astype(np.float64) * N_MELS / (N_MELS - n_low)
    return SimpleNamespace(
        bands=lambda: (np.zeros_like(high), high),
        n_low=n_low,
        fps=FPS,
        sample_rate=RATE,
        hop=160,
    )


def pulse_train(period_frames: float, seconds: float = 20.0) -> np.ndarray:
    """An onset envelope: a 3-frame bump every `period_frames` from frame 5."""
    e = np.zeros(round(seconds * FPS))
    for t in np.arange(5.0, e.size - 2, period_frames):
        e[round(t) - 1 : round(t) + 2] += [0.5, 1.0, 0.5]
    return e


def test_the_onset_envelope_is_librosas_full_band_onset_strength():
    y, _ = click_track(110, seconds=8.0, sample_rate=RATE, noise_dbfs=-30.0)
    result = estimate_tempo(y, RATE)
    stream = OnsetStrengthStream(RATE)
    whole = librosa.onset.onset_strength(
        y=y, sr=RATE, n_fft=stream.n_fft, hop_length=stream.hop, n_mels=N_MELS, fmax=RATE / 2
    )
    np.testing.assert_allclose(result.onset_strength, whole, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bpm", [100, 150])
def test_every_click_is_a_beat_to_the_last_one(bpm):
    """librosa's tracker alone bends the last beats off the grid; the padding keeps them."""
    y, clicks = click_track(bpm, seconds=10.0, sample_rate=RATE, offset_s=0.25)
    beats = estimate_tempo(y, RATE, start_time_s=30.0).beat_times_s - 30.0
    assert beats.size == clicks.size
    np.testing.assert_allclose(beats, clicks, atol=0.03)


def test_beats_lie_inside_the_audio():
    y, _ = click_track(120, seconds=6.0, sample_rate=RATE)  # a click at 0 s
    result = estimate_tempo(y, RATE)
    assert result.beat_times_s.size > 0
    assert result.beat_times_s.min() >= 0.0
    assert result.beat_times_s.max() <= result.onset_times_s[-1]


def test_the_shortest_audio_that_may_hold_a_pulse_holds_one():
    """0.6 s (60 envelope frames) of pulses 250 BPM apart: long enough for two beats at
    200 BPM, so a tempo, and no tempo slower than two periods of it (200 BPM)."""
    onset = np.zeros(60, np.float32)
    onset[[2, 26, 50]] = 1.0
    result = tempo_from_onsets(envelope_stream(onset))
    assert result.tempo_bpm == pytest.approx(250.0, rel=0.02)
    np.testing.assert_allclose(result.beat_times_s, [0.02, 0.26, 0.50], atol=0.011)
    # one frame less is too short
    assert tempo_from_onsets(envelope_stream(onset[:59])).tempo_bpm == 0.0


def test_too_short_audio_keeps_its_times_from_the_start_of_the_video():
    y = np.random.default_rng(0).uniform(-0.1, 0.1, 4000).astype(np.float32)
    result = estimate_tempo(y, RATE, start_time_s=7.5)
    assert result.tempo_bpm == 0.0
    np.testing.assert_allclose(
        result.onset_times_s, 7.5 + np.arange(result.onset_strength.size) / FPS
    )
    assert result.beat_times_s.dtype == np.float64


def test_any_envelope_gives_a_pulse_with_a_confidence_in_0_1_or_no_pulse_at_all():
    """Noise envelopes of many lengths: some have a candidate tempo whose onsets do not
    correlate one beat later (r(P) <= 0): those are "no pulse", never a tempo with a
    confidence of 0 or below."""
    seen = {"pulse": 0, "none": 0}
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(100, 800))
        onset = rng.exponential(1.0, n).astype(np.float32)
        result = tempo_from_onsets(envelope_stream(onset), start_time_s=3.0)
        np.testing.assert_allclose(result.onset_times_s, 3.0 + np.arange(n) / FPS)
        assert result.onset_strength.dtype == np.float32
        np.testing.assert_allclose(result.onset_strength, onset, rtol=1e-6)
        if result.tempo_bpm == 0.0:
            seen["none"] += 1
            assert result.beat_confidence == 0.0 and result.beat_times_s.size == 0
            assert result.tempo_confidence == result.tempo_alt_weight == 0.0
        else:
            seen["pulse"] += 1
            assert 0.0 < result.beat_confidence <= 1.0
    assert seen["none"] > 0 and seen["pulse"] > 0  # both kinds were met


@pytest.mark.parametrize(
    ("ac", "period", "clarity"),
    [
        ([1.0, 0.2, 0.9, 0.3, 0.1], 2.4, 0.9),  # the best of round(P) - 1 .. round(P) + 1
        ([1.0, 0.1, 0.2, 0.3, 0.95], 2.0, 0.3),  # lag 4 is two lags off
        ([1.0, 0.9, 0.1, 0.2, 0.3, 0.05], 3.0, 0.3),  # lag 1 is two lags off
        ([1.0, 0.2, 0.3, 0.1], 1.0, 0.3),  # lag 0 (always 1) is never read
        ([1.0, 0.2, 0.3, 0.1, 0.4], 4.0, 0.4),  # lags past the end are left out
        ([1.0], 1.0, 0.0),  # no lag to read
        ([1.0, -0.4, -0.2, -0.3], 2.0, 0.0),  # anti-correlated: clipped to 0
        ([1.0, 1.5, 1.2], 1.0, 1.0),  # above 1: clipped to 1
    ],
)
def test_pulse_clarity_reads_the_autocorrelation_at_the_beat_period(ac, period, clarity):
    assert _pulse_clarity(np.array(ac), period) == pytest.approx(clarity)


def test_the_prior_is_a_log_normal_at_90_bpm_with_5_octaves_sd():
    bpm = np.array([90.0, 180.0, 45.0, 90.0 * 32, 90.0 / 32])
    expected = np.exp(-0.5 * np.array([0.0, 0.2, -0.2, 1.0, -1.0]) ** 2)
    np.testing.assert_allclose(log_normal_prior(bpm), expected, rtol=1e-12)


def test_three_candidates_are_enough_to_choose_from():
    """Room for exactly three 1 %-apart candidates below 600 BPM (slowest 582.5..588)."""
    e = pulse_train(6000.0 / 590.0, seconds=10.0)
    for slowest in (582.5, 585.0, 588.0):
        levels = choose_level(e, e, FPS, slowest_bpm=slowest)
        assert levels is not None and slowest <= levels.tempo_bpm <= MAX_BPM


def test_the_low_band_counts_at_any_scale():
    """Hi-hats at 240 BPM over kicks at 120: the full band alone says 240, with the low
    band 120, however quiet the low band is (its salience is normalised)."""
    full, low = pulse_train(25.0), pulse_train(50.0)
    assert choose_level(full, np.zeros_like(low), FPS).tempo_bpm == pytest.approx(240, rel=0.01)
    loud = choose_level(full, low, FPS)
    quiet = choose_level(full, 0.5 * low, FPS)
    assert loud.tempo_bpm == pytest.approx(120, rel=0.01)
    assert (quiet.tempo_bpm, quiet.confidence) == (loud.tempo_bpm, loud.confidence)


def test_the_autocorrelation_spans_two_periods_of_the_slowest_candidate():
    """Salience reads r at 1 and 2 periods; 2 lags more let the refinement interpolate."""
    e = pulse_train(200.0, seconds=60.0)  # 30 BPM, the slowest candidate
    levels = choose_level(e, e, FPS)
    assert levels.tempo_bpm == pytest.approx(30.0, rel=0.01)
    assert levels.autocorrelation.size == 2 * 200 + 2 + 1
    short = choose_level(e[:1000], e[:1000], FPS, slowest_bpm=60.0)
    assert short.autocorrelation.size == 2 * 100 + 2 + 1
