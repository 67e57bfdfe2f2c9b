"""Programme loudness per ITU-R BS.1770-4 / EBU R128, measured chunk by chunk.

What it measures, on the original channels at the original sample rate:
- integrated loudness (LUFS): K-weighting, 400 ms blocks every 100 ms, absolute gate
  -70 LUFS, relative gate -10 LU (BS.1770-4 Annex 1);
- loudness range (LU): EBU Tech 3342, 3 s short-term blocks every 100 ms, absolute gate
  -70 LUFS, relative gate -20 LU, spread between the 10th and 95th percentiles;
- true peak (dBTP): BS.1770-4 Annex 2, see `true_peak.py`;
- the short-term loudness curve (LUFS, 3 s window, every 100 ms) and the momentary (400 ms)
  maximum (LUFS).
K-weighting is designed for the actual rate (`k_weighting.py`); channel weights follow the
layout (`channel_weights.py`: surrounds 1.41, LFE left out). A mono track is one channel
of weight 1, as BS.1770 says (no "dual mono" +3 dB).

Streaming: the signal is never kept. Per 100 ms hop the meter keeps one number, the
channel-weighted sum of squared K-weighted samples; every block above is a sum of 4 (400 ms)
or 30 (3 s) consecutive hops. That is ~10 floats per second of audio, plus filter states.
The gating formulas only need per-block sums over channels of G_i * z_ij, so weighting the
channels before storing loses nothing.

Undefined values (what the asset sees, never NaN):
- `integrated_lufs` is -inf when no 400 ms block passes the gates: digital silence, audio
  below -70 LUFS throughout, or audio shorter than one block (400 ms). libebur128 and
  FFmpeg report the same (-inf / -HUGE_VAL). `gated_block_count == 0` tells these apart from
  a real measurement; `duration_s < 0.4` tells "too short" from "silent".
- `loudness_range_lu` is 0.0 when no 3 s block passes its gates (silence, audio < 3 s), as
  in libebur128: there is no spread to measure.
- `true_peak_dbtp` and `momentary_max_lufs` are -inf for an all-zero signal / no block.
- `short_term_lufs` is empty when the audio is shorter than 3 s; a digitally silent window
  reads -inf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import sosfilt

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.audio.channel_weights import channel_weights
from dp_features.audio.k_weighting import MIN_SAMPLE_RATE_HZ, k_weighting_sos
from dp_features.audio.true_peak import TruePeakMeter
from dp_features.feature_stats import (
    Arrays,
    finite_values,
    first_value,
    quantile_or_nan,
    std_or_nan,
)

LOUDNESS_OFFSET_DB = -0.691  # BS.1770-4 eq. 2: makes a 1 kHz tone read its level
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0  # integrated loudness (BS.1770-4)
LRA_RELATIVE_GATE_LU = -20.0  # loudness range (EBU Tech 3342)
LRA_LOW_PERCENTILE = 10.0
LRA_HIGH_PERCENTILE = 95.0
HOP_S = 0.1  # block step: 75 % overlap of 400 ms blocks, and Tech 3342's 10 Hz update
MOMENTARY_HOPS = 4  # 400 ms
SHORT_TERM_HOPS = 30  # 3 s
_ONE_SHOT_SLICE_S = 10


@dataclass(frozen=True)
class LoudnessResult:
    """One programme's loudness. Units are in the field names; see the module docstring
    for the values reported when a measure is undefined (silence, too short)."""

    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float  # max over channels
    true_peak_dbtp_per_channel: np.ndarray  # float64 [C], decoder channel order
    momentary_max_lufs: float
    short_term_lufs: np.ndarray  # float32 [N]
    short_term_times_s: np.ndarray  # float64 [N], centre of each 3 s window
    gated_block_count: int  # 400 ms blocks that passed both gates of the integrated loudness
    duration_s: float  # audio measured, seconds
    sample_rate: int  # Hz

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The result as named numpy arrays (0-d for scalars), headline names first."""
        return {
            "integrated_lufs": np.asarray(self.integrated_lufs, dtype=np.float64),
            "loudness_range_lu": np.asarray(self.loudness_range_lu, dtype=np.float64),
            "true_peak_dbtp": np.asarray(self.true_peak_dbtp, dtype=np.float64),
            "short_term_lufs": self.short_term_lufs,
            "short_term_times_s": self.short_term_times_s,
            "true_peak_dbtp_per_channel": self.true_peak_dbtp_per_channel,
            "momentary_max_lufs": np.asarray(self.momentary_max_lufs, dtype=np.float64),
            "gated_block_count": np.asarray(self.gated_block_count, dtype=np.int64),
            "duration_s": np.asarray(self.duration_s, dtype=np.float64),
            "sample_rate": np.asarray(self.sample_rate, dtype=np.int64),
        }


class LoudnessMeter:
    """Streaming BS.1770-4 / EBU R128 meter: `add` planar chunks [C, S], then `result`.

    `sample_rate` in Hz; `channel_layout` is the decoder's layout name ("stereo", "5.1",
    "6 channels", or "FL+FR+LFE"); `start_time_s` shifts the reported times (seconds of the
    first sample from the start of the video). Chunks may have any length, so a stream cut
    anywhere measures the same as the whole signal at once. `result` may be called at any
    time and does not end the stream.
    """

    def __init__(
        self, sample_rate: int, channel_layout: str, n_channels: int, *, start_time_s: float = 0.0
    ):
        if sample_rate < MIN_SAMPLE_RATE_HZ:
            raise DpError(
                ErrorCode.INPUT_UNSUPPORTED,
                f"loudness needs audio at >= {MIN_SAMPLE_RATE_HZ} Hz, got {sample_rate} Hz",
            )
        try:
            weights = channel_weights(channel_layout, n_channels)
        except ValueError as exc:
            raise DpError(ErrorCode.INPUT_UNSUPPORTED, f"loudness: {exc}") from exc

        self.sample_rate = int(sample_rate)
        self.n_channels = n_channels
        self.start_time_s = float(start_time_s)
        # fs/10 is not an integer for every rate (e.g. 11025 Hz); rounding it, as libebur128
        # does, changes a 400 ms block by < 0.5 sample.
        self.hop = (self.sample_rate + 5) // 10  # round(fs * HOP_S), halves up
        # Only channels that count are filtered (LFE has weight 0); all go to the true peak.
        self._measured = np.flatnonzero(weights > 0)
        self._weights = weights[self._measured]
        self._sos = k_weighting_sos(self.sample_rate)
        # Filters start at rest, as in BS.1770 and the reference meters.
        self._zi = np.zeros((self._sos.shape[0], len(self._measured), 2))
        self._true_peak = TruePeakMeter(n_channels)
        self._hop_energy: list[np.ndarray] = []  # per 100 ms: sum_i G_i * sum_t y_i(t)^2
        self._partial_energy = 0.0  # the hop being filled
        self._partial_count = 0
        self._n_samples = 0

    def add(self, chunk: np.ndarray) -> None:
        """Measure the next samples: [C, S] float in -1..1 (1-D is accepted for mono)."""
        x = _as_planar(chunk, self.n_channels)
        if x.shape[1] == 0:
            return
        if not np.isfinite(x).all():
            raise DpError(ErrorCode.INPUT_CORRUPT, "audio holds NaN or infinite samples")
        self._n_samples += x.shape[1]
        x = x.astype(np.float64, copy=False)  # filters and energy sums need float64 anyway
        self._true_peak.add(x)
        if len(self._measured) == 0:  # e.g. an LFE-only stream: nothing to weight
            self._add_energy(np.zeros(x.shape[1]))
            return
        y = x if len(self._measured) == self.n_channels else x[self._measured]
        y, self._zi = sosfilt(self._sos, y, axis=1, zi=self._zi)
        np.square(y, out=y)
        # einsum, not `weights @ y`: that [C] x [C, S] product goes to a threaded BLAS gemv,
        # which we measured 30x slower than this plain loop on a busy 2-core machine.
        self._add_energy(np.einsum("c,cs->s", self._weights, y))

    def _add_energy(self, e: np.ndarray) -> None:
        """Fold per-sample weighted energies into complete 100 ms hops."""
        need = self.hop - self._partial_count
        if e.size < need:
            self._partial_energy += float(e.sum())
            self._partial_count += e.size
            return
        first = self._partial_energy + float(e[:need].sum())
        n_full = (e.size - need) // self.hop
        body_end = need + n_full * self.hop
        full = e[need:body_end].reshape(n_full, self.hop).sum(axis=1)
        self._hop_energy.append(np.concatenate([[first], full]))
        rest = e[body_end:]
        self._partial_energy = float(rest.sum())
        self._partial_count = rest.size

    def result(self) -> LoudnessResult:
        """The measurement over everything added so far (a trailing partial hop, < 100 ms,
        belongs to no complete block and is ignored, as BS.1770 only uses whole blocks)."""
        hops = np.concatenate(self._hop_energy) if self._hop_energy else np.zeros(0)
        momentary = _block_loudness(hops, MOMENTARY_HOPS, self.hop)
        short_term = _block_loudness(hops, SHORT_TERM_HOPS, self.hop)
        integrated, n_gated = _gated_loudness(momentary, RELATIVE_GATE_LU)
        # Centre of each 3 s window: window j covers hops j .. j+29.
        times = self.start_time_s + (
            (np.arange(short_term.size) + SHORT_TERM_HOPS / 2) * self.hop / self.sample_rate
        )
        peaks = self._true_peak.peak_dbtp
        return LoudnessResult(
            integrated_lufs=integrated,
            loudness_range_lu=_loudness_range(short_term),
            true_peak_dbtp=float(peaks.max()) if peaks.size else float("-inf"),
            true_peak_dbtp_per_channel=peaks,
            momentary_max_lufs=float(momentary.max()) if momentary.size else float("-inf"),
            short_term_lufs=short_term.astype(np.float32),
            short_term_times_s=times.astype(np.float64),
            gated_block_count=n_gated,
            duration_s=self._n_samples / self.sample_rate,
            sample_rate=self.sample_rate,
        )


def measure_loudness(
    audio: np.ndarray, sample_rate: int, channel_layout: str, *, start_time_s: float = 0.0
) -> LoudnessResult:
    """One-shot loudness of planar audio [C, S] (float, -1..1) at `sample_rate` Hz."""
    x = np.asarray(audio)
    meter = LoudnessMeter(
        sample_rate, channel_layout, 1 if x.ndim == 1 else x.shape[0], start_time_s=start_time_s
    )
    # Feeding slices bounds the float64 working copies (~8 MB per 10 s of stereo) whatever
    # the length of the programme.
    step = _ONE_SHOT_SLICE_S * meter.sample_rate
    for start in range(0, max(x.shape[-1], 1), step):
        meter.add(x[..., start : start + step])
    return meter.result()


def _as_planar(chunk: np.ndarray, n_channels: int) -> np.ndarray:
    x = np.asarray(chunk)
    if x.ndim == 1 and n_channels == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] != n_channels:
        raise DpError(
            ErrorCode.INPUT_CORRUPT,
            f"audio chunk has shape {x.shape}, expected [{n_channels}, samples] (planar)",
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise DpError(ErrorCode.INPUT_UNSUPPORTED, f"audio must be float in -1..1, got {x.dtype}")
    return x


def _energy_to_lufs(energy: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET_DB + 10.0 * np.log10(energy)


def _block_loudness(hops: np.ndarray, n_hops: int, hop: int) -> np.ndarray:
    """Loudness (LUFS) of every complete block of `n_hops` consecutive hops."""
    if hops.size < n_hops:
        return np.zeros(0)
    # Summing windows directly (not by differencing a cumulative sum) keeps a quiet block
    # after hours of loud audio exact.
    energy = sliding_window_view(hops, n_hops).sum(axis=1) / (n_hops * hop)
    return _energy_to_lufs(energy)


def _mean_energy_lufs(block_lufs: np.ndarray) -> float:
    """Loudness of the mean energy of blocks given in LUFS (BS.1770-4 eqs. 5-7)."""
    return float(_energy_to_lufs(np.mean(10.0 ** ((block_lufs - LOUDNESS_OFFSET_DB) / 10.0))))


def _gated_loudness(block_lufs: np.ndarray, relative_gate_lu: float) -> tuple[float, int]:
    """BS.1770-4 two-stage gating: (integrated LUFS, blocks kept); -inf and 0 if none pass."""
    above_absolute = block_lufs[block_lufs > ABSOLUTE_GATE_LUFS]
    if above_absolute.size == 0:
        return float("-inf"), 0
    relative = _mean_energy_lufs(above_absolute) + relative_gate_lu
    kept = above_absolute[above_absolute > relative]
    return _mean_energy_lufs(kept), int(kept.size)


def _loudness_range(short_term_lufs: np.ndarray) -> float:
    """EBU Tech 3342 loudness range (LU) of short-term values taken every 100 ms."""
    above_absolute = short_term_lufs[short_term_lufs > ABSOLUTE_GATE_LUFS]
    if above_absolute.size == 0:
        return 0.0
    relative = _mean_energy_lufs(above_absolute) + LRA_RELATIVE_GATE_LU
    kept = np.sort(above_absolute[above_absolute >= relative])  # ">=" as in Tech 3342
    # Tech 3342's reference code takes the nearest rank: sorted[round((n-1) * p / 100)].
    low = kept[int(np.floor((kept.size - 1) * LRA_LOW_PERCENTILE / 100.0 + 0.5))]
    high = kept[int(np.floor((kept.size - 1) * LRA_HIGH_PERCENTILE / 100.0 + 0.5))]
    return float(high - low)


def _features(a: Arrays) -> dict[str, float]:
    short_term = finite_values(a, "short_term_lufs")
    return {
        "loudness_extractor_integrated_lufs": first_value(a, "integrated_lufs"),
        "loudness_extractor_loudness_range_lu": first_value(a, "loudness_range_lu"),
        "loudness_extractor_true_peak_dbtp": first_value(a, "true_peak_dbtp"),
        "loudness_extractor_momentary_max_lufs": first_value(a, "momentary_max_lufs"),
        "loudness_extractor_short_term_p10_lufs": quantile_or_nan(short_term, 0.1),
        "loudness_extractor_short_term_p90_lufs": quantile_or_nan(short_term, 0.9),
        "loudness_extractor_short_term_std_lu": std_or_nan(short_term),
    }


# loudness_extractor's feature-table columns ({column: description, units}).
LOUDNESS_FEATURES = FeatureSet(
    _features,
    {
        "loudness_extractor_integrated_lufs": "EBU R128 integrated loudness, LUFS",
        "loudness_extractor_loudness_range_lu": "EBU R128 loudness range, LU",
        "loudness_extractor_true_peak_dbtp": "true peak, dBTP",
        "loudness_extractor_momentary_max_lufs": "maximum momentary loudness, LUFS",
        "loudness_extractor_short_term_p10_lufs": "10th percentile short-term loudness, LUFS",
        "loudness_extractor_short_term_p90_lufs": "90th percentile short-term loudness, LUFS",
        "loudness_extractor_short_term_std_lu": "std of short-term loudness, LU",
    },
)
