"""Editing pace: how often the picture cuts, how long shots last, how much things move.

Inputs are other components' outputs, all in seconds from the video start: cut times and
shot bounds (`cut_detection`), the video duration, and a motion-energy series with its
sample times (e.g. `core_optical_flow`'s per-pair mean flow speed in px/s). Flow measured
across a cut is not motion, so motion samples within `cut_guard_s` of a cut are left out.

Outputs: `cuts_per_minute`; shot-length statistics in seconds (mean, median, std, p10, p90,
coefficient of variation); the motion-energy curve on a fixed grid (`grid_s`, default
1 s: the mean of the samples in each cell, gaps filled by linear interpolation); and a few
pacing scalars (see `Pacing`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.feature_stats import Arrays, first_value

FAST_SHOT_S = 1.5  # shots shorter than this count as "fast" cuts


@dataclass(frozen=True)
class Pacing:
    """Pacing features of one video.

    `cuts_per_minute` counts transitions per minute of video. `shot_length_*_s` summarise
    the shot durations (NaN with no shot). `fast_shot_ratio` is the share of shots shorter
    than `FAST_SHOT_S`. `pace_change_cpm` is cuts/min in the second half minus the first
    half (> 0: the edit speeds up). `motion_grid_s` [G] are the start times of the grid
    cells and `motion_energy` [G] the mean motion in each; `motion_energy_mean/std/p90`
    summarise it and `motion_cut_correlation` correlates it with the number of cuts per
    cell (do cuts come with action?), NaN where either is constant.
    """

    cuts_per_minute: float
    shot_count: int
    shot_length_mean_s: float
    shot_length_median_s: float
    shot_length_std_s: float
    shot_length_p10_s: float
    shot_length_p90_s: float
    shot_length_cv: float
    fast_shot_ratio: float
    pace_change_cpm: float
    motion_grid_s: np.ndarray
    motion_energy: np.ndarray
    motion_energy_mean: float
    motion_energy_std: float
    motion_energy_p90: float
    motion_cut_correlation: float

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                out[name] = value
            elif isinstance(value, int):
                out[name] = np.asarray(value, np.int64)
            else:
                out[name] = np.asarray(value, np.float64)
        return out


def shot_length_stats(shot_bounds_s: np.ndarray) -> dict[str, float]:
    """Mean, median, std, p10, p90 (seconds) and coefficient of variation of shot lengths."""
    bounds = np.asarray(shot_bounds_s, np.float64).reshape(-1, 2)
    lengths = bounds[:, 1] - bounds[:, 0]
    if len(lengths) == 0:
        nan = float("nan")
        return {k: nan for k in ("mean", "median", "std", "p10", "p90", "cv")}
    mean = float(lengths.mean())
    std = float(lengths.std())
    return {
        "mean": mean,
        "median": float(np.median(lengths)),
        "std": std,
        "p10": float(np.percentile(lengths, 10)),
        "p90": float(np.percentile(lengths, 90)),
        "cv": std / mean if mean > 0 else float("nan"),
    }


def motion_curve(
    sample_times_s: np.ndarray,
    energy: np.ndarray,
    duration_s: float,
    grid_s: float = 1.0,
    exclude_times_s: np.ndarray | None = None,
    guard_s: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample an irregular series onto cells [k*grid_s, (k+1)*grid_s) covering the video.

    Returns (cell start times [G], mean energy per cell [G], float32). Samples within
    `guard_s` of any of `exclude_times_s` are dropped first. Empty cells are filled by
    linear interpolation between filled ones (edge cells take the nearest); with no
    sample at all the curve is zeros.
    """
    if not grid_s > 0:
        raise DpError(ErrorCode.CONFIG_INVALID, f"grid_s must be > 0, got {grid_s}")
    n_cells = max(0, int(np.ceil(duration_s / grid_s - 1e-9)))
    starts = np.arange(n_cells, dtype=np.float64) * grid_s
    t = np.asarray(sample_times_s, np.float64)
    e = np.asarray(energy, np.float64)
    keep = np.isfinite(e) & (t >= 0) & (t < n_cells * grid_s)
    if exclude_times_s is not None and len(exclude_times_s) and guard_s > 0:
        cuts = np.sort(np.asarray(exclude_times_s, np.float64))
        idx = np.clip(np.searchsorted(cuts, t), 1, len(cuts)) - 1
        near = np.minimum(
            np.abs(t - cuts[idx]), np.abs(t - cuts[np.clip(idx + 1, 0, len(cuts) - 1)])
        )
        keep &= near > guard_s
    t, e = t[keep], e[keep]
    curve = np.zeros(n_cells, np.float64)
    if n_cells == 0 or len(t) == 0:
        return starts, curve.astype(np.float32)
    cell = np.minimum((t / grid_s).astype(np.int64), n_cells - 1)
    sums = np.bincount(cell, weights=e, minlength=n_cells)
    counts = np.bincount(cell, minlength=n_cells)
    filled = counts > 0
    curve[filled] = sums[filled] / counts[filled]
    if not filled.all():
        curve[~filled] = np.interp(starts[~filled], starts[filled], curve[filled])
    return starts, curve.astype(np.float32)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def video_pacing(
    cut_times_s: np.ndarray,
    shot_bounds_s: np.ndarray,
    duration_s: float,
    motion_times_s: np.ndarray,
    motion_energy: np.ndarray,
    grid_s: float = 1.0,
    cut_guard_s: float = 0.1,
) -> Pacing:
    """Pacing features; every time argument is in seconds from the video start."""
    if not duration_s >= 0:
        raise DpError(ErrorCode.INPUT_CORRUPT, f"duration must be >= 0, got {duration_s}")
    cuts = np.sort(np.asarray(cut_times_s, np.float64))
    cuts = cuts[(cuts > 0) & (cuts < duration_s)]
    minutes = duration_s / 60.0
    cpm = len(cuts) / minutes if minutes > 0 else 0.0
    half = duration_s / 2.0
    pace_change = 0.0
    if half > 0:
        first, second = np.sum(cuts < half), np.sum(cuts >= half)
        pace_change = (second - first) / (half / 60.0)
    stats = shot_length_stats(shot_bounds_s)
    bounds = np.asarray(shot_bounds_s, np.float64).reshape(-1, 2)
    lengths = bounds[:, 1] - bounds[:, 0]
    fast = float(np.mean(lengths < FAST_SHOT_S)) if len(lengths) else float("nan")
    grid, curve = motion_curve(motion_times_s, motion_energy, duration_s, grid_s, cuts, cut_guard_s)
    cuts_per_cell = np.bincount(
        np.minimum((cuts / grid_s).astype(np.int64), max(len(grid) - 1, 0)),
        minlength=len(grid),
    )[: len(grid)]
    has_curve = len(curve) > 0
    return Pacing(
        cuts_per_minute=float(cpm),
        shot_count=len(bounds),
        shot_length_mean_s=stats["mean"],
        shot_length_median_s=stats["median"],
        shot_length_std_s=stats["std"],
        shot_length_p10_s=stats["p10"],
        shot_length_p90_s=stats["p90"],
        shot_length_cv=stats["cv"],
        fast_shot_ratio=fast,
        pace_change_cpm=float(pace_change),
        motion_grid_s=grid,
        motion_energy=curve,
        motion_energy_mean=float(curve.mean()) if has_curve else 0.0,
        motion_energy_std=float(curve.std()) if has_curve else 0.0,
        motion_energy_p90=float(np.percentile(curve, 90)) if has_curve else 0.0,
        motion_cut_correlation=_corr(curve.astype(np.float64), cuts_per_cell.astype(np.float64)),
    )


_PACING_COLUMNS = (
    "cuts_per_minute",
    "shot_length_mean_s",
    "shot_length_cv",
    "fast_shot_ratio",
    "pace_change_cpm",
    "motion_energy_mean",
    "motion_energy_p90",
    "motion_cut_correlation",
)


def _features(a: Arrays) -> dict[str, float]:
    return {f"video_pacing_{name}": first_value(a, name) for name in _PACING_COLUMNS}


# video_pacing's feature-table columns ({column: description, units}).
VIDEO_PACING_FEATURES = FeatureSet(
    _features,
    {
        "video_pacing_cuts_per_minute": "cuts per minute (pacing component)",
        "video_pacing_shot_length_mean_s": "mean shot length, seconds",
        "video_pacing_shot_length_cv": "coefficient of variation of shot length",
        "video_pacing_fast_shot_ratio": "share of short shots, 0..1",
        "video_pacing_pace_change_cpm": "change of cut rate over the video, cuts/min",
        "video_pacing_motion_energy_mean": "mean motion energy",
        "video_pacing_motion_energy_p90": "90th percentile motion energy",
        "video_pacing_motion_cut_correlation": "correlation of motion and cuts, -1..1",
    },
)
