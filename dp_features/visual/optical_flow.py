"""Dense optical flow statistics for each consecutive frame pair of the dense stream.

Input: uint8 RGB frames [N, H, W, 3] (the low-res dense stream, ~160 px wide) with times in
seconds (variable frame rate is fine), and `scale`: original width / stream width, so that
speeds come out in pixels per second *at the original resolution* (comparable across
videos whatever the analysis size or frame rate). Flow is OpenCV's DIS on luma, preset
ULTRAFAST by default: on synthetic pans it was both the fastest and the least biased
preset (global speed within 4 % from 15 to 80 px/s and 7 % at 5 px/s, at 160 px wide;
FAST read 5-15 % high).

Per pair (the later frame's index i, pair time = midpoint of the two frame times):
* `magnitude_mean/median/p90_px_s`: flow speed statistics (px/s, original resolution);
* `direction_hist` [P, 8]: magnitude-weighted histogram of flow direction, normalised to
  sum 1 (all zeros when nothing moves). Bin k is centred on k*45 degrees, counter-clockwise
  from "rightwards" in screen terms: 0 right, 2 up, 4 left, 6 down;
* `global_dx_px_s`, `global_dy_px_s`: camera (global) motion, the per-axis median of the
  flow (robust to objects covering less than half of the frame), px/s with +x right and
  +y down (image axes); the content moves this way, a camera panning right gives dx < 0;
* `residual_mean_px_s`: mean speed left after removing the global motion (object motion).

`OpticalFlowStream` carries the last frame between chunks so a long video streams in
constant memory; `optical_flow_stats` is the one-shot convenience.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.feature_stats import (
    Arrays,
    finite_values,
    mean_or_nan,
    quantile_or_nan,
    std_or_nan,
)
from dp_features.visual.frame_chunks import rgb_chunk

N_DIRECTIONS = 8

_FIELDS = (
    "pair_times_s",
    "magnitude_mean_px_s",
    "magnitude_median_px_s",
    "magnitude_p90_px_s",
    "direction_hist",
    "global_dx_px_s",
    "global_dy_px_s",
    "residual_mean_px_s",
)


@dataclass(frozen=True)
class FlowStats:
    """Headline arrays, one row per consecutive frame pair (P = N - 1 over a whole video)."""

    pair_times_s: np.ndarray  # float64 [P]
    magnitude_mean_px_s: np.ndarray  # float32 [P]
    magnitude_median_px_s: np.ndarray  # float32 [P]
    magnitude_p90_px_s: np.ndarray  # float32 [P]
    direction_hist: np.ndarray  # float32 [P, 8]
    global_dx_px_s: np.ndarray  # float32 [P]
    global_dy_px_s: np.ndarray  # float32 [P]
    residual_mean_px_s: np.ndarray  # float32 [P]

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in _FIELDS}

    @staticmethod
    def concat(parts: list[FlowStats]) -> FlowStats:
        if not parts:
            return _empty_stats()
        return FlowStats(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


def _empty_stats() -> FlowStats:
    e32 = np.zeros(0, np.float32)
    return FlowStats(
        np.zeros(0, np.float64),
        e32,
        e32,
        e32,
        np.zeros((0, N_DIRECTIONS), np.float32),
        e32,
        e32,
        e32,
    )


# pairs whose statistics are computed together: fewer numpy calls than one pair at a time,
# while a block's float64 temporaries (16 fields of 160x90: 1.8 MB each) stay in cache
STATS_BLOCK_PAIRS = 16


def _block_stats(flows: np.ndarray, px_s: np.ndarray) -> tuple:
    """Statistics of flow fields [k, h, w, 2] (px/frame), each scaled to px/s by its `px_s`
    [k]: mean, median, p90, direction histogram [k, 8], global dx, dy, residual (each [k]).
    Row by row the same arithmetic as one field at a time (reductions along each row)."""
    k = len(flows)
    scale = np.asarray(px_s, np.float64)[:, None]
    fx = flows[..., 0].reshape(k, -1) * scale
    fy = flows[..., 1].reshape(k, -1) * scale
    # sqrt of the squares, not np.hypot (libm's, 3x slower): the same to within 1 ulp of
    # float64 at flow speeds, far below the float32 the statistics are kept in
    mag = np.sqrt(fx * fx + fy * fy)
    mean = mag.mean(axis=1)
    median = np.median(mag, axis=1)
    p90 = np.percentile(mag, 90, axis=1)
    # Screen angle: image y grows downwards, so "up" is -y.
    angle = np.arctan2(-fy, fx)
    bins = np.round(angle / (2 * np.pi / N_DIRECTIONS)).astype(np.int64) % N_DIRECTIONS
    bins += np.arange(k)[:, None] * N_DIRECTIONS  # one run of 8 bins per field
    hist = np.bincount(bins.ravel(), weights=mag.ravel(), minlength=k * N_DIRECTIONS)
    hist = hist.reshape(k, N_DIRECTIONS)
    total = hist.sum(axis=1)
    moving = total > 0
    hist[moving] /= total[moving, None]
    hist[~moving] = 0.0
    gx, gy = np.median(fx, axis=1), np.median(fy, axis=1)
    rx, ry = fx - gx[:, None], fy - gy[:, None]
    residual = np.sqrt(rx * rx + ry * ry).mean(axis=1)
    return mean, median, p90, hist, gx, gy, residual


class OpticalFlowStream:
    """Flow statistics chunk by chunk; keeps only the previous frame between chunks."""

    def __init__(self, scale: float = 1.0, preset: int = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST):
        if not scale > 0:
            raise DpError(ErrorCode.CONFIG_INVALID, f"scale must be > 0, got {scale}")
        self.scale = float(scale)
        self._dis = cv2.DISOpticalFlow_create(preset)
        self._prev: np.ndarray | None = None
        self._prev_time: float | None = None

    def update(self, frames: np.ndarray, times_s: np.ndarray) -> FlowStats:
        """Stats for every pair ending in this chunk (the first pair of the video spans the
        previous chunk's last frame and this chunk's first)."""
        frames, times = rgb_chunk(frames, times_s, "optical flow")
        if len(frames) == 0:
            return _empty_stats()
        n, h, w = frames.shape[:3]
        if max(h, w) < 12:
            raise DpError(
                ErrorCode.INPUT_UNSUPPORTED, f"frames of {w}x{h} px are too small for flow"
            )
        gray = cv2.cvtColor(frames.reshape(n * h, w, 3), cv2.COLOR_RGB2GRAY).reshape(n, h, w)
        if self._prev is not None:
            gray = np.concatenate([self._prev[None], gray])
            times = np.concatenate([[self._prev_time], times])
        dt = np.diff(times)
        if (dt <= 0).any():
            raise DpError(ErrorCode.INPUT_CORRUPT, "frame times must increase")
        pairs = len(gray) - 1
        blocks = []
        for first in range(0, pairs, STATS_BLOCK_PAIRS):
            ends = range(first + 1, min(first + STATS_BLOCK_PAIRS, pairs) + 1)
            flows = np.stack([self._dis.calc(gray[i - 1], gray[i], None) for i in ends])
            blocks.append(_block_stats(flows, self.scale / dt[first : first + len(ends)]))
        self._prev, self._prev_time = gray[-1].copy(), float(times[-1])
        if not blocks:
            return _empty_stats()
        mean, median, p90, hist, gx, gy, residual = (
            np.concatenate(c) for c in zip(*blocks, strict=True)
        )
        return FlowStats(
            0.5 * (times[1:] + times[:-1]),
            *(np.asarray(c, np.float32) for c in (mean, median, p90)),
            np.asarray(hist, np.float32).reshape(-1, N_DIRECTIONS),
            *(np.asarray(c, np.float32) for c in (gx, gy, residual)),
        )


def optical_flow_stats(frames: np.ndarray, times_s: np.ndarray, scale: float = 1.0) -> FlowStats:
    """Flow statistics of a whole frame stack (uint8 RGB [N, H, W, 3], times in seconds);
    `scale` = original width / frame width."""
    return OpticalFlowStream(scale).update(frames, times_s)


def _features(a: Arrays) -> dict[str, float]:
    magnitude = finite_values(a, "magnitude_mean_px_s")
    global_speed = np.hypot(finite_values(a, "global_dx_px_s"), finite_values(a, "global_dy_px_s"))
    return {
        "core_optical_flow_magnitude_mean_px_s": mean_or_nan(magnitude),
        "core_optical_flow_magnitude_p90_px_s": quantile_or_nan(magnitude, 0.9),
        "core_optical_flow_magnitude_std_px_s": std_or_nan(magnitude),
        "core_optical_flow_global_speed_mean_px_s": mean_or_nan(global_speed),
        "core_optical_flow_residual_mean_px_s": mean_or_nan(finite_values(a, "residual_mean_px_s")),
    }


# core_optical_flow's feature-table columns ({column: description, units}).
OPTICAL_FLOW_FEATURES = FeatureSet(
    _features,
    {
        "core_optical_flow_magnitude_mean_px_s": "mean flow magnitude, pixels/s",
        "core_optical_flow_magnitude_p90_px_s": "90th percentile of per-pair mean flow, px/s",
        "core_optical_flow_magnitude_std_px_s": "std of per-pair mean flow, px/s",
        "core_optical_flow_global_speed_mean_px_s": "mean camera (global) motion speed, px/s",
        "core_optical_flow_residual_mean_px_s": "mean motion left after global motion, px/s",
    },
)
