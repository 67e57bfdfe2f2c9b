"""The K-weighting pre-filter of ITU-R BS.1770-4, designed for any sample rate.

BS.1770-4 (Annex 1, tables 1 and 2) publishes the two biquads only for 48 kHz. Re-using
those coefficients at another rate would move the shelf and the high-pass, so we derive
them from their analogue prototypes with the bilinear transform (frequency pre-warped with
tan). The prototype parameters below are the ones that reproduce the 48 kHz table to
~1e-14 (as found by Brecht De Man and used by libebur128, FFmpeg and pyloudnorm's 'DeMan'
filter class); `tests/unit/audio/test_k_weighting.py` checks that against the table.
"""

from __future__ import annotations

import math

import numpy as np

# Stage 1: high shelf modelling the acoustic effect of the head (+4 dB above ~1.7 kHz).
_SHELF_F0_HZ = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_VB_EXPONENT = 0.4996667741545416  # band gain Vb = Vh ** this, from the same fit
# Stage 2: the "RLB" high-pass (revised low-frequency B-curve).
_HIGHPASS_F0_HZ = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773

# The lowest rate we accept: the shelf sits at 1.68 kHz and must stay well below Nyquist.
MIN_SAMPLE_RATE_HZ = 8000


def k_weighting_sos(sample_rate: float) -> np.ndarray:
    """Second-order sections [2, 6] (scipy `sos` layout) of the K-weighting filter.

    `sample_rate` is in Hz. The filter's gain is ~+0.69 dB at 1 kHz; BS.1770's -0.691 dB
    constant in the loudness formula compensates that, so a 1 kHz tone reads its level.
    """
    if sample_rate < MIN_SAMPLE_RATE_HZ:
        raise ValueError(f"K-weighting needs a sample rate >= {MIN_SAMPLE_RATE_HZ} Hz")

    k = math.tan(math.pi * _SHELF_F0_HZ / sample_rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXPONENT
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [
        (vh + vb * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / _SHELF_Q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / _SHELF_Q + k * k) / a0,
    ]

    k = math.tan(math.pi * _HIGHPASS_F0_HZ / sample_rate)
    a0 = 1.0 + k / _HIGHPASS_Q + k * k
    # The published table keeps the numerator at [1, -2, 1] instead of [1, -2, 1] / a0,
    # i.e. the exact high-pass times a0(48 kHz) = +0.043 dB. Copying [1, -2, 1] to another
    # rate (as libebur128 does) would turn that into a rate-dependent gain (+0.13 dB at
    # 16 kHz); scaling by a0(48 kHz) / a0 keeps the 48 kHz curve at every rate and gives
    # exactly [1, -2, 1] at 48 kHz.
    gain = _highpass_a0(48000.0) / a0
    highpass = [
        gain,
        -2.0 * gain,
        gain,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / _HIGHPASS_Q + k * k) / a0,
    ]
    return np.array([shelf, highpass], dtype=np.float64)


def _highpass_a0(sample_rate: float) -> float:
    k = math.tan(math.pi * _HIGHPASS_F0_HZ / sample_rate)
    return 1.0 + k / _HIGHPASS_Q + k * k
