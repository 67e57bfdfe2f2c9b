import numpy as np
import pytest
from scipy.signal import upfirdn

from dp_features.audio.true_peak import _PHASES, TruePeakMeter

pytestmark = pytest.mark.unit


def _reference_peak(x: np.ndarray) -> np.ndarray:
    """Independent route: scipy's polyphase upsampler with the Annex 2 filter over the whole
    signal, keeping only the points whose 12 input samples exist, and the sample peak."""
    taps = _PHASES.T.reshape(-1)  # tap 4k+p = phase p, coefficient k
    y = upfirdn(taps, x, up=4, axis=1)
    supported = y[:, 44 : 4 * x.shape[1]]
    return np.maximum(np.abs(supported).max(axis=1), np.abs(x).max(axis=1))


def test_filter_is_the_symmetric_annex_2_interpolator():
    np.testing.assert_array_equal(_PHASES[3], _PHASES[0][::-1])
    np.testing.assert_array_equal(_PHASES[2], _PHASES[1][::-1])
    # Interleaved, the four phases are one low-pass with a DC gain of ~4 (= the factor).
    assert _PHASES.sum() == pytest.approx(4.0, abs=0.06)


def test_chunked_equals_reference_on_random_signal():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, size=(3, 50_000))
    meter = TruePeakMeter(3)
    at = 0
    for size in [0, 1, 5, 11, 12, 13, 1000, 20_000, 40_000]:
        meter.add(x[:, at : at + size])
        at += size
    np.testing.assert_allclose(meter.peak_linear, _reference_peak(x), rtol=1e-12)


def test_true_peak_is_never_below_sample_peak_and_silence_is_minus_inf():
    meter = TruePeakMeter(2)
    meter.add(np.array([[0.0, 0.0, 0.0], [0.0, -0.5, 0.0]]))  # too short to interpolate
    np.testing.assert_array_equal(meter.peak_linear, [0.0, 0.5])
    assert meter.peak_dbtp[0] == -np.inf
    assert meter.peak_dbtp[1] == pytest.approx(-6.0206, abs=1e-4)


def _overshoot_at(n: int, at: int) -> np.ndarray:
    """Silence of n samples with a 12-sample burst of fs/4 at -45 degrees from `at`: its
    samples read 0.707 of the waveform's peak, which lies between them (+3 dB)."""
    x = np.zeros((1, n))
    x[0, at : at + 12] = 0.9 * np.sin(np.pi / 2 * np.arange(12) - np.pi / 4)
    return x


@pytest.mark.parametrize(
    ("n", "at"),
    [
        (12, 0),  # one window in the whole stream: its points are read
        (2 * (1 << 14) + 40, (1 << 14) - 12),  # the last windows of a 16384-window block
        (2 * (1 << 14) + 40, (1 << 14) - 3),  # straddling two blocks
        (2 * (1 << 14) + 40, 2 * (1 << 14) + 28),  # the stream's last window
    ],
)
def test_an_overshoot_anywhere_in_one_chunk_is_read(n, at):
    x = _overshoot_at(n, at)
    reference = _reference_peak(x)
    assert reference[0] > 1.2 * np.abs(x).max()  # a real inter-sample overshoot
    meter = TruePeakMeter(1)
    meter.add(x)
    np.testing.assert_allclose(meter.peak_linear, reference, rtol=1e-12)


def test_the_stream_start_is_not_padded_with_silence():
    """A constant from the first sample has no step to ring on: its true peak is itself
    (a zero before it would make the interpolator overshoot, Annex 2's edge artefact)."""
    meter = TruePeakMeter(1)
    meter.add(np.full((1, 100), 0.5))
    np.testing.assert_allclose(meter.peak_linear, [0.5], rtol=0, atol=0.5 * 0.02)
    np.testing.assert_allclose(meter.peak_linear, _reference_peak(np.full((1, 100), 0.5)))
