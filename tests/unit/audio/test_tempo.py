import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.tempo import estimate_tempo
from tests.fixtures.audio_synth import click_track

pytestmark = pytest.mark.unit

RATE = 16000


def test_arrays_shapes_and_dtypes():
    y, _ = click_track(120, seconds=6.0, sample_rate=RATE)
    arrays = estimate_tempo(y, RATE).as_arrays()
    assert arrays["tempo_bpm"].shape == () and arrays["tempo_bpm"].dtype == np.float64
    assert arrays["beat_times_s"].ndim == 1 and arrays["beat_times_s"].dtype == np.float64
    assert np.all(np.diff(arrays["beat_times_s"]) > 0)
    assert 0.0 <= float(arrays["beat_confidence"]) <= 1.0
    assert arrays["onset_strength"].dtype == np.float32
    assert arrays["onset_strength"].shape == arrays["onset_times_s"].shape
    np.testing.assert_allclose(np.diff(arrays["onset_times_s"]), 0.01)  # 10 ms frames
    for name, value in arrays.items():
        assert not np.isnan(value).any(), name
    for name in ("tempo_confidence", "tempo_alt_bpm", "tempo_alt_weight"):  # report reads these
        assert arrays[name].shape == () and arrays[name].dtype == np.float64, name
    assert 0.0 < float(arrays["tempo_confidence"]) <= 1.0
    assert 0.0 <= float(arrays["tempo_alt_weight"]) <= 1.0 - float(arrays["tempo_confidence"])


@pytest.mark.parametrize("bpm", [90, 120, 160])
def test_alternative_level_is_metrically_related(bpm):
    # A metronome's other candidate is a level of the same pulse: x2, x1/2, x3 or x1/3
    y, _ = click_track(bpm, seconds=12.0, sample_rate=RATE)
    r = estimate_tempo(y, RATE)
    assert r.tempo_bpm == pytest.approx(bpm, rel=0.02)
    ratio = r.tempo_alt_bpm / r.tempo_bpm
    assert min(abs(ratio / k - 1.0) for k in (2.0, 0.5, 3.0, 1.0 / 3.0)) <= 0.03
    assert r.tempo_confidence > r.tempo_alt_weight > 0.0


@pytest.mark.parametrize("samples", [0, 1, 100, 511, 4000, 9000])
def test_too_short_for_a_pulse(samples):
    # Two periods of the fastest tempo (200 BPM) take 0.6 s; anything shorter has no pulse.
    y = np.random.default_rng(0).uniform(-0.1, 0.1, samples).astype(np.float32)
    r = estimate_tempo(y, RATE)
    assert r.tempo_bpm == 0.0 and r.beat_confidence == 0.0 and r.beat_times_s.size == 0
    assert r.tempo_confidence == 0.0 and r.tempo_alt_bpm == 0.0 and r.tempo_alt_weight == 0.0
    assert not np.isnan(r.onset_strength).any()


def test_short_noise_has_low_confidence():
    y = np.random.default_rng(1).uniform(-0.1, 0.1, RATE).astype(np.float32)
    assert estimate_tempo(y, RATE).beat_confidence < 0.4


def test_other_sample_rates_work():
    for rate in (22050, 48000):
        y, _ = click_track(100, seconds=10.0, sample_rate=rate)
        assert estimate_tempo(y, rate).tempo_bpm == pytest.approx(100, rel=0.02)


def test_bad_input_raises_dp_error():
    with pytest.raises(DpError) as info:
        estimate_tempo(np.zeros((2, 100), np.float32), RATE)
    assert info.value.code == ErrorCode.INPUT_UNSUPPORTED
    with pytest.raises(DpError) as info:
        estimate_tempo(np.full(RATE, np.nan, np.float32), RATE)
    assert info.value.code == ErrorCode.INPUT_CORRUPT
