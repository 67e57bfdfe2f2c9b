"""Visual components end to end: a synthetic edit with hard cuts, dissolves and a fade at
known times, encoded to H.264, segmented (dense stream: 160 px JPEG), detected in the graph."""

import numpy as np
import pytest

from tests.accuracy.test_audio_components import run_and_load
from tests.accuracy.visual.synthetic_clips import ClipSpec as EditSpec
from tests.accuracy.visual.synthetic_clips import (
    ShotSpec,
    cfr_times,
    clip_duration,
    clip_truth,
    iter_clip_frames,
    match_cuts,
)
from tests.fixtures.media import ClipSpec

pytestmark = pytest.mark.accuracy

EDIT = EditSpec(
    shots=(ShotSpec(2.0), ShotSpec(2.5, pan_px_s=(10.0, 0.0)), ShotSpec(2.5), ShotSpec(2.0)),
    joins=(("hard", 0.0), ("dissolve", 1.0), ("fade", 1.0)),
    seed=5,
)


def test_cuts_quality_and_pacing_through_the_graph(tmp_path, dagster_instance):
    fps = 25.0
    times = cfr_times(clip_duration(EDIT), fps)
    frames = np.stack(list(iter_clip_frames(EDIT, times, 320, 180)))
    spec = ClipSpec(
        duration_s=len(times) / fps,
        fps=fps,
        width=320,
        height=180,
        audio=False,
        video_frames=frames,
    )
    artifacts = run_and_load(dagster_instance, tmp_path, {"edit": spec})["edit"]

    cuts = artifacts["cut_detection"].arrays
    truth = clip_truth(EDIT)
    match = match_cuts(truth, cuts["cut_times_s"], times, hard_tol_frames=1)
    assert (match.false_positives, match.false_negatives) == (0, 0), match
    kinds = dict(
        zip(cuts["cut_times_s"].round(2).tolist(), cuts["cut_kinds"].tolist(), strict=True)
    )
    assert sorted(kinds.values()) == sorted(t.kind for t in truth)
    assert artifacts["cut_detection"].meta.analysis_width == 320  # visual meta recorded

    shots = artifacts["shot_quality"].arrays
    assert len(shots["shot_bounds_s"]) == len(truth) + 1
    assert np.all(shots["shot_frame_count"] >= 1) and np.isfinite(shots["shot_sharpness"]).all()

    pacing = artifacts["video_pacing"].arrays
    duration_min = cuts["shot_bounds_s"][-1, 1] / 60.0
    assert float(pacing["cuts_per_minute"]) == pytest.approx(len(truth) / duration_min, rel=1e-6)
    flow = artifacts["core_optical_flow"].arrays
    assert len(flow["pair_times_s"]) == len(times) - 1  # every dense pair (25 fps ≤ max)
