"""Colour palette per shot and brightness/colour dynamics over time, from RGB frames.

Per frame (uint8 RGB [n, H, W, 3]): mean brightness (BT.709 luma of the gamma-encoded
values, 0..1), mean saturation (HSV S, 0..1) and warmth (mean R - B, -1..1).
Per shot: a palette of the `palette_size` most frequent colours, after quantising every
channel to `levels` levels (bin centres, uint8 RGB) with each colour's share of the shot's
pixels. Dynamics: brightness std and the mean absolute brightness change per second
between consecutive sampled frames (a cut to black and back is fast, a slow fade is slow).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dp_core.component_spec import FeatureSet

LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float64)  # ITU-R BT.709


@dataclass(frozen=True)
class FrameColors:
    """Per-frame colour statistics and each frame's quantised colour histogram."""

    brightness: np.ndarray  # float64 [n], 0..1
    saturation: np.ndarray  # float64 [n], 0..1
    warmth: np.ndarray  # float64 [n], -1..1: mean (R - B)
    histograms: np.ndarray  # float64 [n, levels**3]: share of the frame's pixels per bin


def frame_colors(frames: np.ndarray, levels: int = 8) -> FrameColors:
    """Statistics of uint8 RGB frames [n, H, W, 3], one frame at a time (a float copy of a
    whole chunk of analysis frames would take gigabytes)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected RGB frames [n, H, W, 3], got shape {frames.shape}")
    n = len(frames)
    brightness, saturation, warmth = np.zeros(n), np.zeros(n), np.zeros(n)
    histograms = np.zeros((n, levels**3))
    step = 256 // levels
    for i, frame in enumerate(frames):
        rgb = frame.astype(np.float32) / 255.0
        brightness[i] = float((rgb @ LUMA_WEIGHTS.astype(np.float32)).mean())
        high, low = rgb.max(axis=-1), rgb.min(axis=-1)
        saturation[i] = float(np.where(high > 0, (high - low) / np.maximum(high, 1e-12), 0).mean())
        warmth[i] = float((rgb[..., 0] - rgb[..., 2]).mean())
        q = (frame // step).astype(np.int64)
        bins = (q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]
        histograms[i] = np.bincount(bins.ravel(), minlength=levels**3) / bins.size
    return FrameColors(brightness, saturation, warmth, histograms)


def bin_colors(levels: int) -> np.ndarray:
    """uint8 RGB [levels**3, 3]: the centre colour of every histogram bin."""
    step = 256 // levels
    index = np.arange(levels**3)
    channels = np.stack([index // levels**2, (index // levels) % levels, index % levels], axis=1)
    return (channels * step + step // 2).astype(np.uint8)


@dataclass(frozen=True)
class ColorDynamics:
    frame_times_s: np.ndarray  # float64 [n]
    brightness: np.ndarray  # float64 [n]
    saturation: np.ndarray  # float64 [n]
    warmth: np.ndarray  # float64 [n]
    shot_bounds_s: np.ndarray  # float64 [S, 2]
    shot_palette_rgb: np.ndarray  # uint8 [S, K, 3]; rows past a shot's colours are 0
    shot_palette_share: np.ndarray  # float64 [S, K]: share of the shot's pixels, 0..1
    brightness_std: float
    brightness_change_per_s: float  # mean |Δ brightness| / Δt between sampled frames
    palette_colors: int  # distinct dominant (first) colours across shots

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "frame_times_s": self.frame_times_s,
            "brightness": self.brightness,
            "saturation": self.saturation,
            "warmth": self.warmth,
            "shot_bounds_s": self.shot_bounds_s,
            "shot_palette_rgb": self.shot_palette_rgb,
            "shot_palette_share": self.shot_palette_share,
            "brightness_std": np.float64(self.brightness_std),
            "brightness_change_per_s": np.float64(self.brightness_change_per_s),
            "palette_colors": np.int64(self.palette_colors),
        }


def color_dynamics(
    frame_times_s: np.ndarray,
    colors: FrameColors,
    shot_bounds_s: np.ndarray,
    levels: int = 8,
    palette_size: int = 5,
) -> ColorDynamics:
    """Per-shot palettes and dynamics of the sampled frames (times in seconds). A frame
    belongs to the shot whose [start, end) holds its time (the last shot includes its end);
    a shot without a sampled frame gets an empty palette (shares 0)."""
    times = np.asarray(frame_times_s, np.float64)
    bounds = np.asarray(shot_bounds_s, np.float64).reshape(-1, 2)
    shot_of = np.searchsorted(bounds[:, 0], times, side="right") - 1
    shot_of = np.clip(shot_of, 0, max(len(bounds) - 1, 0))
    centres = bin_colors(levels)
    palette_rgb = np.zeros((len(bounds), palette_size, 3), np.uint8)
    palette_share = np.zeros((len(bounds), palette_size), np.float64)
    for shot in range(len(bounds)):
        members = colors.histograms[shot_of == shot]
        if not len(members):
            continue
        histogram = members.mean(axis=0)
        top = np.argsort(-histogram, kind="stable")[:palette_size]
        top = top[histogram[top] > 0]
        palette_rgb[shot, : len(top)] = centres[top]
        palette_share[shot, : len(top)] = histogram[top]
    brightness = colors.brightness
    change = float("nan")
    if len(times) > 1:
        gaps = np.diff(times)
        steps = np.abs(np.diff(brightness))
        valid = gaps > 0
        change = float((steps[valid] / gaps[valid]).mean()) if valid.any() else float("nan")
    dominant = {tuple(palette_rgb[s, 0]) for s in range(len(bounds)) if palette_share[s, 0] > 0}
    return ColorDynamics(
        frame_times_s=times,
        brightness=brightness,
        saturation=colors.saturation,
        warmth=colors.warmth,
        shot_bounds_s=bounds,
        shot_palette_rgb=palette_rgb,
        shot_palette_share=palette_share,
        brightness_std=float(brightness.std()) if len(brightness) else float("nan"),
        brightness_change_per_s=change,
        palette_colors=len(dominant),
    )


def _features(arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
    def mean(name: str) -> float:
        values = np.asarray(arrays.get(name, np.zeros(0)), np.float64)
        return float(values.mean()) if values.size else float("nan")

    return {
        "color_dynamics_brightness_mean": mean("brightness"),
        "color_dynamics_brightness_std": float(arrays["brightness_std"]),
        "color_dynamics_brightness_change_per_s": float(arrays["brightness_change_per_s"]),
        "color_dynamics_saturation_mean": mean("saturation"),
        "color_dynamics_warmth_mean": mean("warmth"),
        "color_dynamics_palette_colors": float(arrays["palette_colors"]),
    }


COLOR_DYNAMICS_FEATURES = FeatureSet(
    _features,
    {
        "color_dynamics_brightness_mean": "mean BT.709 luma of sampled frames, 0..1",
        "color_dynamics_brightness_std": "std of per-frame brightness, 0..1",
        "color_dynamics_brightness_change_per_s": "mean |brightness change| per second",
        "color_dynamics_saturation_mean": "mean HSV saturation, 0..1",
        "color_dynamics_warmth_mean": "mean red minus blue, -1..1 (warm > 0)",
        "color_dynamics_palette_colors": "count of distinct dominant shot colours",
    },
)
