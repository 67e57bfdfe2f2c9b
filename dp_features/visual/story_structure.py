"""Story structure: an energy curve over the video, its hook, climax, arc and segments.

Inputs are other components' outputs, all optional, times in seconds from the video start:
cut times (`cut_detection`), a motion-energy series (`video_pacing`'s `motion_grid_s` +
`motion_energy`, px/s), short-term loudness (`loudness_extractor`'s `short_term_times_s` +
`short_term_lufs`), speech segments (`speech_activity`'s `speech_segments_s` [N, 2]) and
on-screen text spans (`ocr`'s `lines_span_s` [N, 2]). A signal that is None or empty is
skipped and not listed in `signals_used`.

1. Every available signal becomes one value per grid cell [k*step_s, (k+1)*step_s):
   `cut_rate` (cuts per second within `cut_window_s` around the cell centre), `motion` and
   `loudness` (mean of the samples in the cell, empty cells interpolated, as
   `video_pacing.motion_curve`; silent -inf LUFS reads -70 LUFS, the BS.1770 absolute gate),
   `speech` (share of the cell with speech), `text` (text lines on screen, averaged over
   the cell; a line read on one frame only counts as on screen for one grid step).
2. Each is normalised robustly to 0..1: `0.5 + (x - mid) / max(p95 - p5, floor)`, clipped,
   where mid = (p5 + p95) / 2 of the signal's own cells. The floor (`SCALE_FLOOR`, in the
   signal's unit) keeps small wobbles small: a signal that varies less than its floor stays
   near 0.5 instead of being stretched to the full range, so a flat video stays flat.
3. `energy_raw` is the mean of the normalised signals (equal weights over the available
   ones); `energy_curve` is that smoothed by a Gaussian of `smooth_s` seconds (sigma).

Measures:
* `hook_strength` = h / (h + r), h the mean of `energy_raw` over the cells that start in the
  first `hook_seconds`, r its mean over the rest (unsmoothed, so what follows does not leak
  into the hook): 0.5 the opening is as energetic as the rest, towards 1 more, towards 0
  less. NaN when the video is not longer than the hook; 0.5 when h + r = 0.
* `climax_time_s`: the centre of the cell where `energy_curve` peaks; `climax_position` is
  that divided by the duration (0..1).
* `energy_arc`: `energy_curve` is cut into thirds with means a, b, c; with d =
  `arc_min_change`: "peak_middle" if b - max(a, c) >= d, else "valley" if min(a, c) - b >=
  d, else "rising" if c - a >= d, else "falling" if a - c >= d, else "flat" (also "flat"
  for fewer than 3 cells).
* `segment_bounds_s` [K, 2]: change points of the energy level, by binary segmentation of
  `energy_raw`. The best split of a stretch (largest drop in squared error, both sides at
  least `min_segment_s`) is kept when the means of the two sides differ by at least
  `min_change` and the split stands out of the noise (t >= 2 sqrt(ln G), the noise of a
  cell estimated from the median absolute difference of cells `min_segment_s` apart);
  then both sides are split again. The unsmoothed curve is used because a mean-shift split is
  already a smoother, while Gaussian smoothing turns a step into a ramp that the splits
  would cut into slices. A flat video is one segment; a steady ramp becomes a few
  segments of rising (or falling) level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.ndimage import gaussian_filter1d

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.pacing import motion_curve

# The smallest p5..p95 spread a signal is stretched over, in its own unit.
SCALE_FLOOR = {
    "cut_rate": 0.2,  # cuts per second
    "motion": 20.0,  # px/s at the original resolution (core_optical_flow)
    "loudness": 6.0,  # LU
    "speech": 0.5,  # share of the cell
    "text": 1.0,  # lines on screen
}
SILENCE_LUFS = -70.0
ARCS = ("rising", "falling", "peak_middle", "valley", "flat")


@dataclass(frozen=True)
class StoryStructure:
    """Story structure of one video (see the module docstring for every definition).

    `energy_times_s` float64 [G]: centres of the grid cells (seconds); `energy_curve`
    float32 [G] (smoothed, 0..1) and `energy_raw` float32 [G]; `signal_curves` float32
    [K, G]: each normalised signal, rows in the order of `signals_used` unicode [K].
    Scalars `hook_strength`, `climax_time_s`, `climax_position`, `energy_arc` (one of
    `ARCS`). `segment_bounds_s` float64 [M, 2] seconds tiling [0, duration];
    `segment_energy` float32 [M]: mean `energy_raw` of each segment. `status` "empty"
    (with `reason`) when the video has no duration or no signal is available.
    """

    energy_times_s: np.ndarray
    energy_curve: np.ndarray
    energy_raw: np.ndarray
    signal_curves: np.ndarray
    signals_used: np.ndarray
    hook_strength: float
    climax_time_s: float
    climax_position: float
    energy_arc: str
    segment_bounds_s: np.ndarray
    segment_energy: np.ndarray
    status: Literal["ok", "empty"]
    reason: str = ""

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: hook, climax, arc, segments)."""
        return {
            "hook_strength": np.asarray(self.hook_strength, np.float64),
            "climax_time_s": np.asarray(self.climax_time_s, np.float64),
            "climax_position": np.asarray(self.climax_position, np.float64),
            "energy_arc": np.asarray(self.energy_arc, dtype=np.str_),
            "segment_bounds_s": self.segment_bounds_s,
            "segment_energy": self.segment_energy,
            "energy_times_s": self.energy_times_s,
            "energy_curve": self.energy_curve,
            "energy_raw": self.energy_raw,
            "signal_curves": self.signal_curves,
            "signals_used": self.signals_used,
        }


def _empty(reason: str) -> StoryStructure:
    nan = float("nan")
    return StoryStructure(
        energy_times_s=np.zeros(0, np.float64),
        energy_curve=np.zeros(0, np.float32),
        energy_raw=np.zeros(0, np.float32),
        signal_curves=np.zeros((0, 0), np.float32),
        signals_used=np.zeros(0, dtype="<U8"),
        hook_strength=nan,
        climax_time_s=nan,
        climax_position=nan,
        energy_arc="",
        segment_bounds_s=np.zeros((0, 2), np.float64),
        segment_energy=np.zeros(0, np.float32),
        status="empty",
        reason=reason,
    )


def _point_series(
    name: str, times_s: np.ndarray | None, values: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(times, values) float64, or None when the series is absent or empty."""
    if times_s is None and values is None:
        return None
    if times_s is None or values is None:
        raise DpError(
            ErrorCode.CONFIG_INVALID, f"{name}: sample times and values must be given together"
        )
    t = np.asarray(times_s, np.float64).reshape(-1)
    v = np.asarray(values, np.float64).reshape(-1)
    if len(t) != len(v):
        raise DpError(
            ErrorCode.DEPENDENCY_ERROR,
            f"{name}: {len(t)} sample times but {len(v)} values; re-run the upstream component",
        )
    return (t, v) if len(t) else None


def _spans(name: str, spans_s: np.ndarray | None) -> np.ndarray | None:
    """Spans float64 [N, 2] (start, end) with end >= start, or None when absent or empty."""
    if spans_s is None:
        return None
    spans = np.asarray(spans_s, np.float64)
    if spans.size == 0:
        return None
    if spans.ndim != 2 or spans.shape[1] != 2:
        raise DpError(ErrorCode.DEPENDENCY_ERROR, f"{name} must be [N, 2], got {spans.shape}")
    spans = spans[np.all(np.isfinite(spans), axis=1)]
    return np.stack([spans[:, 0], np.maximum(spans[:, 0], spans[:, 1])], axis=1)


def _cell_edges(duration_s: float, step_s: float) -> np.ndarray:
    """Cell edges [G + 1] in seconds; the last cell ends at the duration."""
    n_cells = max(1, int(np.ceil(duration_s / step_s - 1e-9)))
    return np.minimum(np.arange(n_cells + 1, dtype=np.float64) * step_s, duration_s)


def _coverage(spans: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean number of spans covering each cell [G] (overlap seconds / cell seconds).

    Uses the integral C(x) = sum_i clip(x - start_i, 0, end_i - start_i), evaluated at the
    cell edges from sorted starts and ends, so it costs O((N + G) log N), not N x G.
    """

    def integral(x: np.ndarray) -> np.ndarray:
        total = np.zeros_like(x)
        for points, sign in ((spans[:, 0], 1.0), (spans[:, 1], -1.0)):
            p = np.sort(points)
            cum = np.concatenate([[0.0], np.cumsum(p)])
            k = np.searchsorted(p, x, side="right")
            total += sign * (k * x - cum[k])
        return total

    widths = np.diff(edges)
    return np.diff(integral(edges)) / np.maximum(widths, 1e-12)


def _cut_rate(cuts: np.ndarray, centres: np.ndarray, window_s: float) -> np.ndarray:
    """Cuts per second within `window_s` centred on each cell centre."""
    cuts = np.sort(cuts)
    lo = np.searchsorted(cuts, centres - window_s / 2, side="left")
    hi = np.searchsorted(cuts, centres + window_s / 2, side="left")
    return (hi - lo) / window_s


def _normalised(values: np.ndarray, floor: float) -> np.ndarray:
    """0.5 + (x - mid) / max(p95 - p5, floor), clipped to 0..1 (see the module docstring)."""
    p5, p95 = np.percentile(values, [5, 95])
    spread = max(float(p95 - p5), floor)
    return np.clip(0.5 + (values - 0.5 * (p5 + p95)) / spread, 0.0, 1.0)


def _signal_cells(
    duration_s: float,
    edges: np.ndarray,
    centres: np.ndarray,
    step_s: float,
    cut_window_s: float,
    cuts: np.ndarray | None,
    motion: tuple[np.ndarray, np.ndarray] | None,
    loudness: tuple[np.ndarray, np.ndarray] | None,
    speech: np.ndarray | None,
    text: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Each available signal's value per grid cell [G], in its own unit."""
    out: dict[str, np.ndarray] = {}
    if cuts is not None:
        inside = cuts[np.isfinite(cuts) & (cuts > 0) & (cuts < duration_s)]
        if len(inside):
            out["cut_rate"] = _cut_rate(inside, centres, cut_window_s)
    for name, series in (("motion", motion), ("loudness", loudness)):
        if series is None:
            continue
        t, v = series
        if name == "loudness":
            v = np.where(np.isneginf(v), SILENCE_LUFS, v)
        # motion_curve's cells are those of the grid (the last one may reach past the end).
        grid_end_s = len(centres) * step_s
        usable = np.isfinite(t) & np.isfinite(v) & (t >= 0) & (t < grid_end_s)
        if usable.any():
            _, curve = motion_curve(t[usable], v[usable], grid_end_s, step_s)
            out[name] = curve.astype(np.float64)
    if speech is not None:
        out["speech"] = _coverage(speech, edges)
    if text is not None:
        # A line read on one sampled frame has a zero-length span: count it for one step.
        padded = np.stack([text[:, 0], np.maximum(text[:, 1], text[:, 0] + step_s)], axis=1)
        out["text"] = _coverage(padded, edges)
    return out


def _energy_arc(curve: np.ndarray, min_change: float) -> str:
    if len(curve) < 3:
        return "flat"
    a, b, c = (float(part.mean()) for part in np.array_split(curve, 3))
    if b - max(a, c) >= min_change:
        return "peak_middle"
    if min(a, c) - b >= min_change:
        return "valley"
    if c - a >= min_change:
        return "rising"
    if a - c >= min_change:
        return "falling"
    return "flat"


def _change_points(energy: np.ndarray, min_cells: int, min_change: float) -> list[int]:
    """Cell indices where a new segment starts (binary segmentation, see module docstring)."""
    n = len(energy)
    if n < 2:
        return []
    # Noise of one cell around its local level: the robust spread (MAD) of differences
    # between cells `min_cells` apart. The lag lets slow wobbles (loudness is a 3 s
    # average) count as noise; a step or a burst moves only a few of the differences.
    lag = min(min_cells, n - 1)
    diffs = energy[lag:] - energy[:-lag]
    noise = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / np.sqrt(2.0)
    noise = max(noise, 1e-3)
    t_min = 2.0 * np.sqrt(np.log(n))
    cum = np.concatenate([[0.0], np.cumsum(energy)])
    found: list[int] = []
    stack = [(0, n)]
    while stack:
        lo, hi = stack.pop()
        ks = np.arange(lo + min_cells, hi - min_cells + 1)
        if len(ks) == 0:
            continue
        n1, n2 = (ks - lo).astype(np.float64), (hi - ks).astype(np.float64)
        gap = (cum[hi] - cum[ks]) / n2 - (cum[ks] - cum[lo]) / n1
        best = int(np.argmax(n1 * n2 / (n1 + n2) * gap**2))  # largest drop in squared error
        t_stat = abs(gap[best]) / (noise * np.sqrt(1.0 / n1[best] + 1.0 / n2[best]))
        if abs(gap[best]) >= min_change and t_stat >= t_min:
            k = int(ks[best])
            found.append(k)
            stack.extend([(lo, k), (k, hi)])
    return sorted(found)


def story_structure(
    duration_s: float,
    cut_times_s: np.ndarray | None = None,
    motion_times_s: np.ndarray | None = None,
    motion_energy: np.ndarray | None = None,
    loudness_times_s: np.ndarray | None = None,
    short_term_lufs: np.ndarray | None = None,
    speech_segments_s: np.ndarray | None = None,
    text_spans_s: np.ndarray | None = None,
    hook_seconds: float = 3.0,
    step_s: float = 1.0,
    *,
    smooth_s: float = 2.0,
    cut_window_s: float = 5.0,
    min_segment_s: float = 4.0,
    min_change: float = 0.15,
    arc_min_change: float = 0.1,
) -> StoryStructure:
    """Energy curve, hook, climax, arc and segments of one video (see the module docstring).

    All times are in seconds from the video start; every signal is optional.
    """
    if not np.isfinite(duration_s) or duration_s < 0:
        raise DpError(ErrorCode.INPUT_CORRUPT, f"duration must be >= 0, got {duration_s}")
    for name, value in (
        ("step_s", step_s),
        ("hook_seconds", hook_seconds),
        ("cut_window_s", cut_window_s),
    ):
        if not value > 0:
            raise DpError(ErrorCode.CONFIG_INVALID, f"{name} must be > 0, got {value}")
    if not (smooth_s >= 0 and min_segment_s >= 0):
        raise DpError(ErrorCode.CONFIG_INVALID, "smooth_s and min_segment_s must be >= 0")
    cuts = None if cut_times_s is None else np.asarray(cut_times_s, np.float64).reshape(-1)
    motion = _point_series("motion", motion_times_s, motion_energy)
    loudness = _point_series("loudness", loudness_times_s, short_term_lufs)
    speech = _spans("speech_segments_s", speech_segments_s)
    text = _spans("text_spans_s", text_spans_s)
    if duration_s == 0:
        return _empty("the video has no duration")
    edges = _cell_edges(duration_s, step_s)
    centres = 0.5 * (edges[:-1] + edges[1:])
    cells = _signal_cells(
        duration_s, edges, centres, step_s, cut_window_s, cuts, motion, loudness, speech, text
    )
    if not cells:
        return _empty(
            "no input signal: cuts, motion, loudness, speech and on-screen text are all "
            "absent or empty"
        )
    names = list(cells)
    curves = np.stack([_normalised(cells[name], SCALE_FLOOR[name]) for name in names])
    raw = curves.mean(axis=0)
    sigma = smooth_s / step_s
    smooth = gaussian_filter1d(raw, sigma, mode="nearest") if sigma > 0 else raw.copy()

    hook_cells = edges[:-1] < hook_seconds
    hook_cells[0] = True
    if hook_cells.all():
        hook_strength = float("nan")
    else:
        h, r = float(raw[hook_cells].mean()), float(raw[~hook_cells].mean())
        hook_strength = h / (h + r) if h + r > 0 else 0.5
    peak = int(np.argmax(smooth))
    climax_time_s = float(centres[peak])

    min_cells = max(1, round(min_segment_s / step_s))
    starts = np.array([0, *_change_points(raw, min_cells, min_change)], np.int64)
    stops = np.append(starts[1:], len(raw))
    segment_bounds = np.stack([edges[starts], edges[stops]], axis=1)
    segment_energy = np.add.reduceat(raw, starts) / (stops - starts)
    return StoryStructure(
        energy_times_s=centres,
        energy_curve=smooth.astype(np.float32),
        energy_raw=raw.astype(np.float32),
        signal_curves=curves.astype(np.float32),
        signals_used=np.asarray(names, dtype=np.str_),
        hook_strength=hook_strength,
        climax_time_s=climax_time_s,
        climax_position=climax_time_s / duration_s,
        energy_arc=_energy_arc(smooth, arc_min_change),
        segment_bounds_s=segment_bounds,
        segment_energy=segment_energy.astype(np.float32),
        status="ok",
    )
