"""Metrical-level choice for tempo: salience of candidate tempi, a prior, the top two.

Pure numpy on onset envelopes (frames per second `fps`); see `tempo.py` for the method and
why. Every function here is scale-covariant up to its grid and range limits: an envelope
played s times faster gives the same salience curve shifted by s on the BPM axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_BPM = 30.0
# 800, not 600: the fastest salient pulses we measured are ~480 BPM (eighth notes of fast
# metal and game music), and played 1.5x as fast they must still be reportable (720).
MAX_BPM = 800.0
GRID_STEP = 1.01  # candidate tempi 1 % apart
HARMONICS = 2  # periodicity summed over b, 2b (Fourier) and P, 2P (autocorrelation)
LOW_BAND_WEIGHT = 0.6  # salience = full^(1-w) x low^w when the low band has onsets
PRIOR_CENTRE_BPM = 90.0
PRIOR_OCTAVES = 5.0  # log-normal sd: a tie-breaker, not a range
FOURIER_WINDOW_S = 30.0  # Fourier magnitudes averaged over windows this long, half overlap
FOURIER_SPAN = 0.01  # each candidate reads the spectrum's maximum within +-1 %
DETREND_S = 1.0  # moving average removed from the envelope (loudness swells, not pulse)
SMOOTH_FRAMES = 3  # Hann smoothing of the envelope
REFINE_SPAN = 0.04  # autocorrelation peaks sought within +-4 % of k x the period
N_WEIGHED_PEAKS = 3  # candidate weights are shares of the posterior at this many peaks


@dataclass(frozen=True)
class TempoLevels:
    tempo_bpm: float  # the most likely level, refined
    confidence: float  # its share of the posterior at the top peaks, 0..1
    alt_bpm: float  # the second most likely level (0.0 when there is none)
    alt_weight: float  # its share, 0..1; confidence + alt_weight <= 1
    autocorrelation: np.ndarray  # normalised r[0..], of the full-band envelope


def choose_level(
    full: np.ndarray, low: np.ndarray, fps: float, slowest_bpm: float = MIN_BPM
) -> TempoLevels | None:
    """Tempo levels of full- and low-band onset envelopes [F]; None when no candidate in
    slowest_bpm..MAX_BPM has positive salience (no pulse)."""
    grid = _grid(slowest_bpm)
    if grid.size < 3:
        return None
    full_e = _prepare(full, fps)
    salience, ac = _salience(full_e, fps, grid)
    if np.any(low > 0):
        low_salience, _ = _salience(_prepare(low, fps), fps, grid)
        salience = salience ** (1.0 - LOW_BAND_WEIGHT) * low_salience**LOW_BAND_WEIGHT
    posterior = salience * log_normal_prior(grid)
    peaks = _peaks(posterior)
    if peaks.size == 0:
        return None
    order = peaks[np.argsort(posterior[peaks])[::-1]]
    top = order[:N_WEIGHED_PEAKS]
    weights = posterior[top] / posterior[top].sum()
    tempo = refine_tempo(ac, float(grid[order[0]]), fps)
    alt = (float(grid[order[1]]), float(weights[1])) if order.size > 1 else (0.0, 0.0)
    return TempoLevels(tempo, float(weights[0]), alt[0], alt[1], ac)


def log_normal_prior(bpm: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_OCTAVES) ** 2)


def autocorrelation(envelope: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation r[0..max_lag] (r[0] = 1) of the mean-removed envelope,
    each lag averaged over its own overlap; all zeros for a constant envelope."""
    e = envelope - envelope.mean()
    n = e.size
    max_lag = min(max_lag, n - 1)
    spectrum = np.fft.rfft(e, 2 * n)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, 2 * n)[: max_lag + 1]
    ac = ac / (n - np.arange(ac.size))
    return ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)


def fourier_magnitude(envelope: np.ndarray, fps: float, bpm: np.ndarray) -> np.ndarray:
    """Mean magnitude spectrum of Hann-windowed FOURIER_WINDOW_S windows (half overlap) of
    the envelope, its maximum within +-FOURIER_SPAN of each of `bpm` / 60 Hz, scaled to a
    maximum of 1 (all zeros if flat). The span matters: a 30 s window resolves 2 BPM, so at
    the 3rd harmonic of a fast tempo a peak is narrower than the 1 % grid, and reading the
    spectrum at a grid point alone would be a lottery on where the grid falls."""
    n = envelope.size
    w = min(n, round(FOURIER_WINDOW_S * fps))
    n_fft = 1 << int(np.ceil(np.log2(max(8 * w, 8192))))  # fine bins for the maxima
    starts = list(range(0, n - w + 1, max(w // 2, 1)))
    if starts[-1] != n - w:
        starts.append(n - w)
    window = np.hanning(w)
    magnitude = np.zeros(n_fft // 2 + 1)
    for start in starts:
        segment = envelope[start : start + w]
        magnitude += np.abs(np.fft.rfft((segment - segment.mean()) * window, n_fft))
    bins_bpm = np.fft.rfftfreq(n_fft, 1.0 / fps) * 60.0
    lo = np.searchsorted(bins_bpm, bpm / (1.0 + FOURIER_SPAN))
    hi = np.maximum(np.searchsorted(bins_bpm, bpm * (1.0 + FOURIER_SPAN), side="right"), lo + 1)
    lo, hi = np.minimum(lo, magnitude.size - 1), np.minimum(hi, magnitude.size)
    at_bpm = np.array([magnitude[a:b].max() for a, b in zip(lo, hi, strict=True)])
    peak = at_bpm.max()
    return at_bpm / peak if peak > 0 else np.zeros_like(at_bpm)


def refine_tempo(ac: np.ndarray, bpm: float, fps: float) -> float:
    """`bpm` refined on the autocorrelation: the highest peak within +-REFINE_SPAN of each
    multiple k = 1..4 of the period, parabola-interpolated and divided by k, averaged with
    weights k x height (a peak at 4 periods pins the period 4x as finely)."""
    period = 60.0 * fps / bpm
    estimates, weights = [], []
    for k in range(1, 5):
        lo = max(int(np.floor(k * period * (1 - REFINE_SPAN))), 1)
        hi = int(np.ceil(k * period * (1 + REFINE_SPAN)))
        if hi + 1 >= ac.size:
            break
        lags = np.arange(lo, hi + 1)
        j = int(lags[np.argmax(ac[lags])])
        a, b, c = ac[j - 1], ac[j], ac[j + 1]
        curvature = a - 2.0 * b + c
        offset = 0.5 * (a - c) / curvature if curvature < 0 else 0.0
        estimates.append((j + float(np.clip(offset, -0.5, 0.5))) / k)
        weights.append(k * max(float(b), 1e-6))
    if not estimates:
        return bpm
    return 60.0 * fps / float(np.average(estimates, weights=weights))


def _grid(slowest_bpm: float) -> np.ndarray:
    lo = max(MIN_BPM, slowest_bpm)
    if lo >= MAX_BPM:
        return np.zeros(0)
    return lo * GRID_STEP ** np.arange(int(np.log(MAX_BPM / lo) / np.log(GRID_STEP)) + 1)


def _prepare(envelope: np.ndarray, fps: float) -> np.ndarray:
    e = envelope.astype(np.float64)
    window = np.hanning(SMOOTH_FRAMES + 2)[1:-1]
    e = np.convolve(e, window / window.sum(), mode="same")
    k = round(DETREND_S * fps) | 1
    if e.size > k:
        e = e - np.convolve(e, np.ones(k) / k, mode="same")
    return e


def _salience(envelope: np.ndarray, fps: float, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(salience at each grid tempo, autocorrelation): the autocorrelation summed at 1..H
    periods times the Fourier magnitude summed at 1..H x the tempo, both clipped at 0."""
    ks = np.arange(1, HARMONICS + 1)
    max_lag = int(np.ceil(HARMONICS * 60.0 * fps / grid[0])) + 2
    ac = autocorrelation(envelope, max_lag)
    lags = 60.0 * fps * ks[:, None] / grid[None, :]
    ac_sum = np.clip(np.interp(lags, np.arange(ac.size), ac, right=0.0), 0, None).mean(axis=0)
    fourier = fourier_magnitude(envelope, fps, (ks[:, None] * grid[None, :]).ravel())
    fourier_sum = fourier.reshape(HARMONICS, grid.size).mean(axis=0)
    return ac_sum * fourier_sum, ac


def _peaks(curve: np.ndarray) -> np.ndarray:
    """Indices of the positive local maxima of `curve` (ends included)."""
    padded = np.concatenate(([-np.inf], curve, [-np.inf]))
    mid = padded[1:-1]
    return np.flatnonzero((mid > padded[:-2]) & (mid >= padded[2:]) & (mid > 0))
