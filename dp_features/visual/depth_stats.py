"""Depth statistics per frame from monocular depth maps (MiDaS-style relative inverse depth).

Input: the model's maps, float32 [N, H, W], one per sampled frame at `frame_times_s` [N]
(seconds). MiDaS predicts *relative inverse depth*: larger is nearer, with an unknown scale
and shift per frame, so only the order and relative spacing of values within a frame mean
anything. Each map is therefore min-max normalised on its own: 0 is the farthest pixel of
the frame, 1 the nearest. A map with no spread at all (max == min) normalises to all 0
("no depth structure"); `depth_range_raw` == 0 tells such frames apart.

Per frame, on the normalised map: `depth_mean`, `depth_std`, `depth_p10`, `depth_p50`,
`depth_p90` and `near_fraction`, the share of pixels in the nearest third (value >= 2/3).
`depth_maps` are the normalised maps area-averaged to `map_size` x `map_size` (float16,
aspect ratio not kept: a thumbnail of the layout, not a measurement). Video-level values
are the means of the per-frame ones over frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from dp_core.errors import DpError, ErrorCode

NEAR_THIRD = 2.0 / 3.0
_FRAME_BLOCK = 64  # frames normalised at once: bounds the float copies of the maps

_FRAME_STATS = ("depth_mean", "depth_std", "depth_p10", "depth_p50", "depth_p90", "near_fraction")


@dataclass(frozen=True)
class DepthStatistics:
    """Depth statistics of one video (see the module docstring).

    Per frame, float32 [N]: `depth_mean`, `depth_std`, `depth_p10`, `depth_p50`,
    `depth_p90`, `near_fraction` (all on 0..1 normalised inverse depth, 1 = nearest), and
    `depth_range_raw` (max - min of the raw model output). `frame_times_s` float64 [N];
    `depth_maps` float16 [N, map_size, map_size] in 0..1. Video level, float64 scalars
    (NaN when empty): `video_depth_mean`, `video_depth_std`, `video_depth_p10`,
    `video_depth_p50`, `video_depth_p90`, `video_near_fraction`.
    """

    frame_times_s: np.ndarray
    depth_mean: np.ndarray
    depth_std: np.ndarray
    depth_p10: np.ndarray
    depth_p50: np.ndarray
    depth_p90: np.ndarray
    near_fraction: np.ndarray
    depth_range_raw: np.ndarray
    depth_maps: np.ndarray
    status: Literal["ok", "empty"]
    reason: str = ""

    def video_means(self) -> dict[str, float]:
        """`video_<stat>`: the mean of each per-frame statistic over frames (NaN if empty)."""
        out = {}
        for name in _FRAME_STATS:
            values = getattr(self, name)
            out["video_" + name] = (
                float(np.mean(values, dtype=np.float64)) if len(values) else float("nan")
            )
        return out

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: the video-level means and `depth_maps`)."""
        out = {name: np.asarray(value, np.float64) for name, value in self.video_means().items()}
        out["frame_times_s"] = self.frame_times_s
        for name in (*_FRAME_STATS, "depth_range_raw"):
            out[name] = getattr(self, name)
        out["depth_maps"] = self.depth_maps
        return out


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] matrix averaging input pixels by the share of each output pixel they
    cover (exact area resampling, for shrinking and enlarging alike); rows sum to 1."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale
    hi = lo + scale
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return (overlap / scale).astype(np.float32)


def depth_statistics(
    depth_maps: np.ndarray, frame_times_s: np.ndarray, map_size: int = 64
) -> DepthStatistics:
    """Per-frame and video-level depth statistics (see the module docstring)."""
    if not (isinstance(map_size, int | np.integer) and map_size >= 1):
        raise DpError(ErrorCode.CONFIG_INVALID, f"map_size must be an integer >= 1, got {map_size}")
    maps = np.asarray(depth_maps)
    times = np.asarray(frame_times_s, np.float64).reshape(-1)
    if maps.ndim != 3 or maps.shape[0] != len(times) or (len(times) and 0 in maps.shape[1:]):
        raise DpError(
            ErrorCode.MODEL_BAD_OUTPUT,
            f"depth maps must be [N, H, W] with one map per frame time; got shape "
            f"{maps.shape} for {len(times)} frame times",
        )
    n = len(times)
    if n == 0:
        empty = np.zeros(0, np.float32)
        return DepthStatistics(
            frame_times_s=times,
            **{name: empty for name in _FRAME_STATS},
            depth_range_raw=empty,
            depth_maps=np.zeros((0, map_size, map_size), np.float16),
            status="empty",
            reason="no depth map (no frame was sampled)",
        )
    if not np.all(np.isfinite(maps)):
        raise DpError(
            ErrorCode.MODEL_BAD_OUTPUT,
            "the depth model returned NaN or inf; check the model file and its input size",
        )
    height, width = maps.shape[1:]
    rows, cols = _area_weights(height, map_size), _area_weights(width, map_size).T
    stats = {name: np.zeros(n, np.float32) for name in (*_FRAME_STATS, "depth_range_raw")}
    small = np.zeros((n, map_size, map_size), np.float16)
    for lo in range(0, n, _FRAME_BLOCK):
        block = maps[lo : lo + _FRAME_BLOCK].astype(np.float32)
        flat = block.reshape(len(block), -1)
        low, high = flat.min(axis=1), flat.max(axis=1)
        spread = high - low
        scale = np.where(spread > 0, 1.0 / np.where(spread > 0, spread, 1.0), 0.0)
        norm = (flat - low[:, None]) * scale[:, None]
        sl = slice(lo, lo + len(block))
        stats["depth_range_raw"][sl] = spread
        stats["depth_mean"][sl] = norm.mean(axis=1)
        stats["depth_std"][sl] = norm.std(axis=1)
        p10, p50, p90 = np.percentile(norm, [10, 50, 90], axis=1)
        stats["depth_p10"][sl], stats["depth_p50"][sl], stats["depth_p90"][sl] = p10, p50, p90
        stats["near_fraction"][sl] = (norm >= NEAR_THIRD).mean(axis=1)
        resized = rows @ norm.reshape(block.shape) @ cols
        small[sl] = np.clip(resized, 0.0, 1.0).astype(np.float16)
    return DepthStatistics(frame_times_s=times, **stats, depth_maps=small, status="ok", reason="")
