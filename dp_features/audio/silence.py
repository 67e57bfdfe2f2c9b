"""Silent gaps in mono audio: where the sound stops, for how long, and how late it starts.

Dead air is what viewers skip: a video that opens on silence, or goes quiet between takes,
loses them; a tight edit has no gap longer than a breath. Loudness (LUFS, gated) and speech
activity do not say it: the BS.1770 gates drop silence from the measure, and music without
speech is not silence.

The audio (float samples, -1..1, any rate) is cut into consecutive `window_s` windows, the
last one possibly shorter; each window's level is its RMS in dBFS (`20 log10 rms`: a
full-scale square wave reads 0 dBFS, a full-scale sine -3.01). A window is silent below
`threshold_dbfs`. A silent gap is a run of silent windows lasting at least `min_silence_s`;
shorter runs (pauses between words, the space between beats) are not gaps.

- `silence_ratio`: seconds in gaps / seconds of audio, 0..1.
- `longest_silence_s`: the longest gap, 0 without one.
- `lead_in_silence_s`: time from the audio's start to its first window at or above the
  threshold, however short (the whole duration when it never gets there).
Times are seconds from the video start (the first chunk's `start_s`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.audio.chunk_stream import stream_origin, to_mono
from dp_features.feature_stats import Arrays, first_value, ratio_or_nan, span_rows

WINDOW_S = 0.05
DEFAULT_THRESHOLD_DBFS = -50.0
DEFAULT_MIN_SILENCE_S = 0.5
_FLOOR_DBFS = -120.0  # the level of digital silence (log of 0)


@dataclass(frozen=True)
class Silence:
    window_times_s: np.ndarray  # float64 [W], start of each window
    window_dbfs: np.ndarray  # float32 [W], RMS level of each window
    silence_gaps_s: np.ndarray  # float64 [G, 2], (start, end) of each gap
    duration_s: float
    silence_ratio: float
    longest_silence_s: float
    lead_in_silence_s: float

    @property
    def status(self) -> str:
        return "ok" if self.duration_s > 0 else "empty"

    @property
    def reason(self) -> str:
        return "" if self.duration_s > 0 else "the audio stream holds no samples"

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: `silence_gaps_s`, `silence_ratio`)."""
        return {
            "window_times_s": self.window_times_s,
            "window_dbfs": self.window_dbfs,
            "silence_gaps_s": self.silence_gaps_s,
            "duration_s": np.float64(self.duration_s),
            "silence_ratio": np.float64(self.silence_ratio),
            "longest_silence_s": np.float64(self.longest_silence_s),
            "lead_in_silence_s": np.float64(self.lead_in_silence_s),
        }


class WindowLevels:
    """RMS level per `window_s` window over a stream of contiguous chunks: `add` each
    chunk in order, then `levels()`. Holds one number per window, not the audio."""

    def __init__(self, sample_rate: int, window_s: float = WINDOW_S):
        if sample_rate <= 0:
            raise DpError(ErrorCode.INPUT_UNSUPPORTED, f"sample rate {sample_rate} Hz")
        self.sample_rate = sample_rate
        self.window = max(1, round(window_s * sample_rate))
        self._pending = np.zeros(0, np.float64)
        self._mean_squares: list[np.ndarray] = []
        self._origin_s: float | None = None
        self._samples_seen = 0

    def add(self, samples: np.ndarray, start_s: float = 0.0) -> None:
        """A chunk: float samples [n] or planar [C, n] (channels averaged), starting at
        `start_s` seconds in the video, right after the previous chunk."""
        self._origin_s = stream_origin(
            self._origin_s, self._samples_seen, self.sample_rate, start_s
        )
        mono = to_mono(samples).astype(np.float64)
        self._samples_seen += len(mono)
        joined = np.concatenate([self._pending, mono])
        whole = len(joined) // self.window * self.window
        if whole:
            squares = joined[:whole].reshape(-1, self.window) ** 2
            self._mean_squares.append(squares.mean(axis=1))
        self._pending = joined[whole:]

    def levels(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(window start times s, window dBFS, duration s); the last window may be short."""
        parts = list(self._mean_squares)
        if len(self._pending):
            parts.append(np.array([np.mean(self._pending**2)]))
        mean_squares = np.concatenate(parts) if parts else np.zeros(0)
        origin = self._origin_s or 0.0
        times = origin + np.arange(len(mean_squares)) * (self.window / self.sample_rate)
        with np.errstate(divide="ignore"):
            dbfs = 10.0 * np.log10(mean_squares)
        dbfs = np.maximum(dbfs, _FLOOR_DBFS).astype(np.float32)
        return times, dbfs, self._samples_seen / self.sample_rate


def silent_gaps(
    window_times_s: np.ndarray,
    window_dbfs: np.ndarray,
    end_s: float,
    threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS,
    min_silence_s: float = DEFAULT_MIN_SILENCE_S,
) -> np.ndarray:
    """float64 [G, 2]: runs of windows below `threshold_dbfs` lasting >= `min_silence_s`;
    window i spans [times[i], times[i + 1]) and the last one ends at `end_s`."""
    times = np.asarray(window_times_s, np.float64)
    if not len(times):
        return np.zeros((0, 2))
    ends = np.append(times[1:], end_s)
    silent = np.asarray(window_dbfs) < threshold_dbfs
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    first, after = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    gaps = np.stack([times[first], ends[after - 1]], axis=1)
    return gaps[gaps[:, 1] - gaps[:, 0] >= min_silence_s - 1e-9]


def silence(
    levels: WindowLevels,
    threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS,
    min_silence_s: float = DEFAULT_MIN_SILENCE_S,
) -> Silence:
    """The silent gaps of the audio fed to `levels` (see the module docstring)."""
    times, dbfs, duration = levels.levels()
    start = float(times[0]) if len(times) else 0.0
    gaps = silent_gaps(times, dbfs, start + duration, threshold_dbfs, min_silence_s)
    lengths = gaps[:, 1] - gaps[:, 0]
    sounding = np.flatnonzero(dbfs >= threshold_dbfs)
    lead_in = float(times[sounding[0]] - start) if len(sounding) else duration
    return Silence(
        window_times_s=times,
        window_dbfs=dbfs,
        silence_gaps_s=gaps,
        duration_s=duration,
        silence_ratio=float(lengths.sum() / duration) if duration > 0 else float("nan"),
        longest_silence_s=float(lengths.max()) if len(lengths) else 0.0,
        lead_in_silence_s=lead_in,
    )


def silence_of_chunks(
    chunks: Iterable,
    sample_rate: int,
    threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS,
    min_silence_s: float = DEFAULT_MIN_SILENCE_S,
) -> Silence:
    """`silence` over chunks with `samples` ([C, n] or [n]) and `start_s`."""
    levels = WindowLevels(sample_rate)
    for chunk in chunks:
        levels.add(chunk.samples, chunk.start_s)
    return silence(levels, threshold_dbfs, min_silence_s)


def _features(a: Arrays) -> dict[str, float]:
    duration = first_value(a, "duration_s")
    gaps = span_rows(a, "silence_gaps_s")
    return {
        "silence_detection_silence_ratio": first_value(a, "silence_ratio"),
        "silence_detection_longest_silence_s": first_value(a, "longest_silence_s"),
        "silence_detection_gaps_per_minute": ratio_or_nan(60.0 * len(gaps), duration),
        "silence_detection_lead_in_silence_s": first_value(a, "lead_in_silence_s"),
    }


# silence_detection's feature-table columns ({column: description, units}).
SILENCE_FEATURES = FeatureSet(
    _features,
    {
        "silence_detection_silence_ratio": "share of the audio in silent gaps, 0..1",
        "silence_detection_longest_silence_s": "longest silent gap, seconds",
        "silence_detection_gaps_per_minute": "silent gaps per minute of audio",
        "silence_detection_lead_in_silence_s": "silence before the first sound, seconds",
    },
)
