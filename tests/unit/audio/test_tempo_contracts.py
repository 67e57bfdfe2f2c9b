"""What dp_features/audio/tempo.py promises beyond the headline tempo (issue 32, mutation
survivors): the onset envelope is librosa's full-band onset strength, every beat of a
click track is found to its last one, the shortest audio that may hold a pulse (0.6 s)
does, a "no pulse" result keeps its envelope and times, and beat confidence is the
autocorrelation at the beat period, clipped to 0..1, whatever the envelope."""

from types import SimpleNamespace

import librosa
import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.onset_strength import N_MELS, OnsetStrengthStream
from dp_features.audio.tempo import _pulse_clarity, estimate_tempo, tempo_from_onsets
from dp_features.audio.tempo_levels import (
    MAX_BPM,
    _peaks,
    _prepare,
    autocorrelation,
    choose_level,
    fourier_magnitude,
    log_normal_prior,
    refine_tempo,
)
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
    """Room for exactly three 1 %-apart candidates below MAX_BPM: a level is chosen."""
    e = pulse_train(60.0 * FPS / (MAX_BPM / 1.01), seconds=10.0)
    for room in (2.05, 2.5, 2.95):  # lo x 1.01^2 <= MAX_BPM < lo x 1.01^3
        slowest = MAX_BPM / 1.01**room
        levels = choose_level(e, e, FPS, slowest_bpm=slowest)
        assert levels is not None and slowest <= levels.tempo_bpm <= MAX_BPM * 1.01


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


def parabolic_bumps(period: float, multiples: int, size: int) -> np.ndarray:
    """An autocorrelation with a parabola-topped peak at each multiple of `period` (lags):
    three samples around each peak lie on its parabola, so interpolation is exact."""
    ac = np.zeros(size)
    ac[0] = 1.0
    for k in range(1, multiples + 1):
        for lag in range(int(k * period) - 2, int(k * period) + 4):
            if 0 < lag < size:
                ac[lag] = max(ac[lag], 1.0 - ((lag - k * period) / 3.0) ** 2)
    return ac


def test_refinement_interpolates_each_of_four_multiples_exactly():
    """Peaks at 1..4 x 33.3 lags (180.18 BPM) read from a coarse 33-lag guess: each
    parabola's vertex / k is the period exactly; a 5th multiple is never read (the
    autocorrelation there is empty and would pull the average)."""
    ac = parabolic_bumps(33.3, multiples=4, size=200)
    assert refine_tempo(ac, 6000.0 / 33.0, FPS) == pytest.approx(6000.0 / 33.3, rel=1e-12)
    ac = parabolic_bumps(41.7, multiples=4, size=230)  # vertices the other side of a lag
    assert refine_tempo(ac, 6000.0 / 42.0, FPS) == pytest.approx(6000.0 / 41.7, rel=1e-12)


def test_refinement_searches_4_percent_around_the_guess():
    ac = parabolic_bumps(30.0, multiples=1, size=50)  # one multiple fits
    # a guess of 32 lags: 30 is 6.25 % away, but its window (30.72 -> lag 30) reaches it
    assert refine_tempo(ac, 6000.0 / 32.0, FPS) == pytest.approx(200.0, rel=1e-12)


def test_a_peak_past_the_window_moves_the_estimate_half_a_lag_at_most():
    ac = np.zeros(50)
    ac[0] = 1.0
    ac[31:35] = [0.5, 0.9, 1.0, 0.5]  # the top (33) lies past the window 28..32
    assert refine_tempo(ac, 200.0, FPS) == pytest.approx(6000.0 / 32.5, rel=1e-12)


def test_refinement_stops_where_the_autocorrelation_ends():
    """The 2nd multiple's window (57..63) needs lag 64 to interpolate: 64 lags are too few,
    so only the 1st multiple counts, whatever the end of the autocorrelation holds."""
    ac = parabolic_bumps(30.0, multiples=1, size=64)
    ac[61:64] = [0.3, 0.6, 0.9]  # rising into the end
    assert refine_tempo(ac, 200.0, FPS) == pytest.approx(200.0, rel=1e-12)


def test_fourier_magnitude_reads_the_peak_within_1_percent_only():
    e = pulse_train(50.0, seconds=60.0)  # 120 BPM
    bpm = np.array([30.0, 110.0, 118.9, 120.0, 121.1, 130.0])
    f = fourier_magnitude(e, FPS, bpm)
    np.testing.assert_allclose(f[2:5], 1.0, rtol=1e-12)  # within 1 %: the peak itself
    assert f[1] < 0.05 and f[5] < 0.05  # 8 % off: not the peak's lobe
    # the mean is removed per window and the scale normalised away
    np.testing.assert_allclose(fourier_magnitude(e + 5.0, FPS, bpm), f, atol=1e-12)
    np.testing.assert_allclose(fourier_magnitude(e * 1e-4, FPS, bpm), f, atol=1e-12)
    assert not fourier_magnitude(np.zeros(500), FPS, bpm).any()  # flat: zeros, not NaN


def test_the_autocorrelation_has_a_lag_per_frame_at_most():
    e = pulse_train(20.0, seconds=3.0)
    ac = autocorrelation(e, max_lag=10 * e.size)
    assert ac.size == e.size and np.isfinite(ac).all() and ac[0] == pytest.approx(1.0)


def test_peaks_are_positive_local_maxima_ends_included_plateaus_once():
    np.testing.assert_array_equal(_peaks(np.array([3.0, 2.0, 1.0])), [0])
    np.testing.assert_array_equal(_peaks(np.array([1.0, 2.0, 3.0])), [2])
    np.testing.assert_array_equal(_peaks(np.array([1.0, 2.0, 2.0, 1.0])), [1])
    np.testing.assert_array_equal(_peaks(np.array([0.0, -1.0, 0.0])), [])


def test_a_stereo_array_is_refused_naming_its_shape():
    with pytest.raises(DpError) as refused:
        estimate_tempo(np.zeros((2, 100), np.float32), RATE)
    assert refused.value.code is ErrorCode.INPUT_UNSUPPORTED
    assert refused.value.message == "onsets expect mono audio [samples], got (2, 100)"


def test_the_envelope_is_smoothed_by_a_centred_3_frame_hann():
    impulse = np.zeros(50)  # shorter than the 1 s detrend window: smoothing alone
    impulse[20] = 1.0
    smoothed = _prepare(impulse, FPS)
    np.testing.assert_allclose(smoothed[19:22], [0.25, 0.5, 0.25])
    assert smoothed.sum() == pytest.approx(1.0) and smoothed.dtype == np.float64
