import numpy as np
import pytest
from scipy.signal import sosfreqz

from dp_features.audio.k_weighting import k_weighting_sos

pytestmark = pytest.mark.unit

# ITU-R BS.1770-4 Annex 1, tables 1 and 2 (48 kHz): b0 b1 b2 a0 a1 a2 per stage.
BS1770_48K = np.array(
    [
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241,
         0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ]
)  # fmt: skip


def test_48k_coefficients_are_the_published_table():
    np.testing.assert_allclose(k_weighting_sos(48000), BS1770_48K, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    ("rate", "tolerance_db"),
    [
        # The bilinear transform warps frequencies towards Nyquist, so the lowest rates
        # match the analogue curve less well near their top (still < 0.3 dB).
        (8000, 0.3),
        (11025, 0.2),
        (16000, 0.07),
        (22050, 0.04),
        (32000, 0.015),
        (44100, 0.005),
        (88200, 0.01),
        (96000, 0.01),
        (192000, 0.01),
    ],
)
def test_other_rates_keep_the_48k_response(rate, tolerance_db):
    # The filter is one analogue curve; a correct design for another rate has the same
    # response wherever both rates can represent it.
    freqs = np.geomspace(20.0, min(0.4 * rate, 16000.0), 60)
    _, h48 = sosfreqz(BS1770_48K, worN=freqs, fs=48000)
    _, h = sosfreqz(k_weighting_sos(rate), worN=freqs, fs=rate)
    deviation = 20 * np.log10(np.abs(h)) - 20 * np.log10(np.abs(h48))
    assert np.abs(deviation).max() <= tolerance_db


def test_gain_at_1khz_matches_the_loudness_offset():
    # BS.1770's -0.691 dB constant is there to cancel the K-weighting gain near 1 kHz.
    _, h = sosfreqz(k_weighting_sos(48000), worN=[997.0], fs=48000)
    assert 20 * np.log10(np.abs(h[0])) == pytest.approx(0.691, abs=0.001)


def test_rejects_rates_too_low_for_the_shelf():
    with pytest.raises(ValueError, match=r"^K-weighting needs a sample rate >= 8000 Hz$"):
        k_weighting_sos(4000)
