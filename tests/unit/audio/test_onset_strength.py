import librosa
import numpy as np
import pytest

from dp_features.audio.onset_strength import N_MELS, OnsetStrengthStream
from dp_features.audio.tempo import estimate_tempo, tempo_from_onsets
from tests.fixtures.audio_synth import click_track

pytestmark = pytest.mark.unit

RATE = 16000


@pytest.fixture(scope="module")
def long_clicks() -> np.ndarray:
    # 130 s: three segments of the stream. Clicks over a noise floor keep every frame well
    # inside librosa's 80 dB range, so the per-segment dB floor cannot bind.
    y, _ = click_track(97, seconds=130.0, sample_rate=RATE, noise_dbfs=-30.0)
    return y


def test_segmented_equals_librosa_on_the_whole_track(long_clicks):
    stream = OnsetStrengthStream(RATE)
    stream.add(long_clicks)
    whole = librosa.onset.onset_strength(
        y=long_clicks, sr=RATE, n_fft=stream.n_fft, hop_length=stream.hop, n_mels=N_MELS,
        fmax=RATE / 2,
    )  # fmt: skip
    assert stream.full().shape == whole.shape == (1 + long_clicks.size // stream.hop,)
    np.testing.assert_allclose(stream.full(), whole, rtol=1e-4, atol=1e-4)


def test_any_chunking_gives_the_same_envelope_and_tempo(long_clicks):
    one = OnsetStrengthStream(RATE)
    one.add(long_clicks)
    chunked = OnsetStrengthStream(RATE)
    rng = np.random.default_rng(0)
    at = 0
    while at < long_clicks.size:
        size = int(rng.choice([0, 1, 159, 161, rng.integers(1, 40 * RATE)]))
        chunked.add(long_clicks[at : at + size])
        at += size
    np.testing.assert_array_equal(chunked.bands(), one.bands())
    assert tempo_from_onsets(chunked).tempo_bpm == estimate_tempo(long_clicks, RATE).tempo_bpm


def test_bands_can_be_read_mid_stream():
    stream = OnsetStrengthStream(RATE)
    assert stream.bands().shape == (2, 0)
    stream.add(np.zeros(100, np.float32))  # shorter than one window
    np.testing.assert_array_equal(stream.bands(), np.zeros((2, 1)))
    stream.add(np.random.default_rng(0).uniform(-0.1, 0.1, 2 * RATE).astype(np.float32))
    assert stream.bands().shape == (2, 1 + (2 * RATE + 100) // stream.hop)
