"""Optical flow against synthetic motion of known speed and direction."""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.visual.optical_flow import FlowStats, OpticalFlowStream, optical_flow_stats

from .synthetic_clips import ClipSpec, ShotSpec, cfr_times, render_clip, vfr_times

pytestmark = pytest.mark.accuracy

SCALE = 8.0  # the dense stream is 160 px wide; say the original was 1280 px


def _direction_bin(dx: float, dy: float) -> int:
    """Expected histogram bin for content moving by (dx, dy) in image axes (y down)."""
    return int(np.round(np.arctan2(-dy, dx) / (np.pi / 4))) % 8


@pytest.mark.parametrize("rate", ["25", "vfr", "12"])
@pytest.mark.parametrize("pan", [(20.0, 0.0), (-30.0, 0.0), (0.0, 15.0), (25.0, -25.0)])
def test_global_motion_of_a_pan(pan, rate):
    spec = ClipSpec(shots=(ShotSpec(4.0, pan_px_s=pan),), joins=(), seed=4)
    times = vfr_times(4.0, 25.0, seed=2) if rate == "vfr" else cfr_times(4.0, float(rate))
    clip = render_clip(spec, times)
    stats = optical_flow_stats(clip.frames, clip.times_s, scale=SCALE)
    # The renderer moves its crop window by `pan` px/s over the picture, so the picture
    # moves by -pan on screen; at the original resolution that is SCALE times more.
    truth = -np.asarray(pan) * SCALE
    dx, dy = float(np.median(stats.global_dx_px_s)), float(np.median(stats.global_dy_px_s))
    speed = float(np.hypot(*truth))
    assert np.hypot(dx - truth[0], dy - truth[1]) <= 0.1 * speed, (dx, dy, truth)
    assert float(np.median(stats.magnitude_median_px_s)) == pytest.approx(speed, rel=0.1)
    hist = stats.direction_hist.mean(axis=0)
    assert int(np.argmax(hist)) == _direction_bin(*truth)
    assert hist.max() > 0.6


def test_static_camera_with_a_moving_object():
    spec = ClipSpec(shots=(ShotSpec(3.0, object_px_s=60.0),), joins=(), seed=9)
    clip = render_clip(spec, cfr_times(3.0, 25.0))
    stats = optical_flow_stats(clip.frames, clip.times_s, scale=1.0)
    # The object covers a few % of the frame: the camera (median) stays still, the object
    # shows in the residual motion.
    assert np.all(np.abs(stats.global_dx_px_s) < 1.0)
    assert np.all(np.abs(stats.global_dy_px_s) < 1.0)
    assert float(np.median(stats.residual_mean_px_s)) > 0.5


def test_streaming_over_chunks_keeps_the_pair_across_the_boundary():
    spec = ClipSpec(shots=(ShotSpec(2.0, pan_px_s=(15.0, 0.0)),), joins=(), seed=1)
    clip = render_clip(spec, cfr_times(2.0, 25.0))
    stream = OpticalFlowStream(scale=2.0)
    parts = [
        stream.update(clip.frames[i : i + 13], clip.times_s[i : i + 13]) for i in range(0, 50, 13)
    ]
    stats = FlowStats.concat(parts)
    assert len(stats.pair_times_s) == len(clip.times_s) - 1
    assert float(np.median(stats.global_dx_px_s)) == pytest.approx(-30.0, rel=0.1)
